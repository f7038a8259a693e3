/// What an event stream waits on between keepalives. Injected so a test fires it by hand.
public protocol StreamTimer: Sendable {
    func sleep(for duration: Duration) async throws
}

public struct SystemStreamTimer: StreamTimer {
    public init() {}
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// Writes a Server-Sent Events body from a sequence, with a `: keepalive` comment whenever a whole
/// `interval` passed with nothing written, so a proxy that cuts quiet connections (nginx at 60 s)
/// keeps a stream open while a turn waits on a slow provider. Silence is thus at most twice the
/// interval. EventSource ignores comment lines.
///
/// Bounded: the reader of the sequence hands over one frame and waits until it is written, and
/// the timer waits until its tick is handled, so at most one frame and one tick are ever queued.
/// A client that stops reading thus still backs the sequence up (the hub's reader queue then
/// drops it, as before).
struct SSEKeepalive: Sendable {
    static let comment = ": keepalive\n\n"
    let interval: Duration
    let timer: any StreamTimer

    init(interval: Duration, timer: any StreamTimer) {
        self.interval = max(interval, .seconds(1))
        self.timer = timer
    }

    private enum Item: Sendable {
        case frame(String)
        case tick
        case end
        case failed(any Error)
    }

    /// Writes `frame(element)` for each element, keepalives between, until the sequence ends
    /// (returns), fails (throws its error) or a write fails (throws that).
    func write<Source: AsyncSequence & Sendable>(_ source: Source, frame: @escaping @Sendable (Source.Element) -> String,
                                                 to write: (String) async throws -> Void) async throws {
        let (items, sink) = AsyncStream<Item>.makeStream()
        let (frameAcks, frameAck) = AsyncStream<Void>.makeStream()
        let (tickAcks, tickAck) = AsyncStream<Void>.makeStream()
        let (interval, timer) = (self.interval, self.timer)
        defer {
            sink.finish()
            frameAck.finish()
            tickAck.finish()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var acks = frameAcks.makeAsyncIterator()
                do {
                    for try await element in source {
                        sink.yield(.frame(frame(element)))
                        guard await acks.next() != nil else { return }
                    }
                    sink.yield(.end)
                } catch {
                    sink.yield(.failed(error))
                }
            }
            group.addTask {
                var acks = tickAcks.makeAsyncIterator()
                while (try? await timer.sleep(for: interval)) != nil, !Task.isCancelled {
                    sink.yield(.tick)
                    guard await acks.next() != nil else { return }
                }
            }
            defer { group.cancelAll() }
            var quiet = true
            loop: for await item in items {
                switch item {
                case .frame(let text):
                    try await write(text)
                    quiet = false
                    frameAck.yield()
                case .tick:
                    if quiet { try await write(Self.comment) }
                    quiet = true
                    tickAck.yield()
                case .end:
                    break loop
                case .failed(let error):
                    throw error
                }
            }
        }
    }
}
