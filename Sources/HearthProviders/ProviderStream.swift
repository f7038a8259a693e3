import AsyncHTTPClient
public import HearthAgentCore
import NIOCore

/// Turns one wire format's events into `ProviderEvent`s. `isComplete` once the final frame
/// (`[DONE]`, `message_stop`) was seen; a body that ends before that is a truncated stream.
protocol ProviderStreamDecoder: Sendable {
    mutating func decode(_ event: SSEEvent) throws(ProviderFailure) -> [ProviderEvent]
    var isComplete: Bool { get }
}

/// The state one stream's consumer pulls through. Only the single consuming task touches it, one
/// `next()` at a time (AsyncThrowingStream's unfolding contract), hence the unchecked Sendable.
private final class StreamPump<Decoder: ProviderStreamDecoder>: @unchecked Sendable {
    var body: HTTPClientResponse.Body.AsyncIterator?
    var parser = SSEParser()
    var decoder: Decoder
    var pending: [ProviderEvent] = []
    var next = 0
    let onEnd: @Sendable (String) -> Void

    init(body: HTTPClientResponse.Body, decoder: Decoder, onEnd: @escaping @Sendable (String) -> Void) {
        self.body = body.makeAsyncIterator()
        self.decoder = decoder
        self.onEnd = onEnd
    }

    func pull() async throws -> ProviderEvent? {
        while true {
            if next < pending.count {
                defer { next += 1 }
                return pending[next]
            }
            pending.removeAll(keepingCapacity: true)
            next = 0
            guard var iterator = body else { return nil }
            if decoder.isComplete {
                body = nil  // drops the response: the connection is released
                onEnd("complete")
                return nil
            }
            let chunk: ByteBuffer?
            do {
                chunk = try await iterator.next()
                body = iterator
            } catch {
                body = nil
                if Task.isCancelled { onEnd("cancelled"); throw CancellationError() }
                onEnd("transport")
                throw ProviderFailure(.transport, "the provider connection failed mid-stream")
            }
            guard let chunk else {
                body = nil
                onEnd("truncated")
                throw ProviderFailure(.truncated, "the provider's stream ended without its final frame")
            }
            do throws(ProviderFailure) {
                for event in try parser.feed(chunk.readableBytesView) {
                    pending += try decoder.decode(event)
                    if decoder.isComplete { break }
                }
            } catch {
                body = nil
                onEnd(error.kind.rawValue)
                throw error
            }
        }
    }
}

/// The consumer pulls: nothing reads the connection unless it asks, so a slow consumer slows the
/// provider (TCP backpressure) instead of buffering. Cancelling the consuming task cancels the body
/// read, and dropping the stream drops the response; either closes the connection.
func providerEventStream<Decoder: ProviderStreamDecoder>(
    body: HTTPClientResponse.Body, decoder: Decoder, onEnd: @escaping @Sendable (String) -> Void
) -> AsyncThrowingStream<ProviderEvent, any Error> {
    let pump = StreamPump(body: body, decoder: decoder, onEnd: onEnd)
    return AsyncThrowingStream(unfolding: { try await pump.pull() })
}
