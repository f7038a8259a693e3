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

    /// Returns the number of bytes written. `first` are body bytes already read with the head.
    /// `chunks` ends at the guest's end of stream and throws if the agent fails.
    static func relay<Chunks: AsyncSequence>(first: [UInt8] = [], _ chunks: Chunks, length: Int?,
                                             write: ([UInt8]) async throws -> Void) async throws -> Int where Chunks.Element == [UInt8] {
        var sent = 0
        func pass(_ bytes: [UInt8]) async throws -> Bool {
            guard let length else {
                if !bytes.isEmpty { try await write(bytes) }
                sent &+= bytes.count
                return true
            }
            let room = length - sent
            let take = min(room, bytes.count)
            if take > 0 {
                try await write(take == bytes.count ? bytes : Array(bytes[..<take]))
                sent += take
            }
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
