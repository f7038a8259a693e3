import HearthCore

/// Copies a guest's bytes into a response whose framing Hearth chose. With a length, exactly that
/// many bytes go out: a guest that sends more has the rest dropped (never written, where they would
/// answer the client's next request on a keep-alive connection), and one that sends fewer makes
/// the relay fail, which closes the client's connection instead of leaving it mis-framed.
enum BoundedRelay {
    struct ShortBody: Error, Equatable {
        var expected: Int
        var sent: Int
    }

    /// The most one `write` hands the HTTP writer. A writer to a client that stopped reading holds
    /// what it was given and one write more (NIO's pending writes and the suspended `yield`), so
    /// writing an agent's 240 KiB frames whole cost a stalled download about 0.75 MiB more than its
    /// agent window (BENCHMARKS.md, "The trust boundary's costs").
    static let writeSlice = 64 * 1024

    /// Returns the number of bytes written. `first` are body bytes already read with the head.
    /// `chunks` ends at the guest's end of stream and throws if the agent fails.
    static func relay<Chunks: AsyncSequence>(first: [UInt8] = [], _ chunks: Chunks, length: Int?,
                                             write: (ArraySlice<UInt8>) async throws -> Void) async throws -> Int where Chunks.Element == [UInt8] {
        var sent = 0
        func pass(_ bytes: [UInt8]) async throws -> Bool {
            // What may still go out: all of it without a length, else up to the declared length.
            let take = length.map { min($0 - sent, bytes.count) } ?? bytes.count
            var start = 0
            while start < take {
                let end = min(take, start + writeSlice)
                try await write(bytes[start..<end])
                sent += end - start
                start = end
            }
            guard let length else { return true }
            return sent < length
        }
        if length == 0 { return 0 }
        guard try await pass(first) else { return sent }
        for try await bytes in chunks {
            guard try await pass(bytes) else { return sent }
        }
        if let length, sent < length { throw ShortBody(expected: length, sent: sent) }
        return sent
    }
}
