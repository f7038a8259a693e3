public import Foundation
import HearthCore
public import Logging
import Synchronization

/// A JSON value of an event's data. Small on purpose: events carry text, numbers and flags.
public enum AgentJSON: Sendable, Equatable, Encodable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case null

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    static func encode(_ fields: [String: AgentJSON]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(fields), as: UTF8.self)) ?? "{}"
    }
}

/// Writes every session's events to the store and hands them to live readers.
///
/// One lock orders each session's writes and publications, so a reader that subscribes (under
/// the same lock) gets every event either from the store or live, and dedupes the overlap by
/// sequence number: nothing lost or repeated at the seam. A block's first token delta is stored
/// at once; the rest are gathered and stored as one `message` (or `thinking`) event per
/// `flushBytes` or `flushInterval`, so a reader
/// mid-turn sees the partial answer without a row per token. Each reader has a bounded queue;
/// one that falls `queueLimit` events behind is dropped and told so, never skipped silently.
public final class AgentEventHub: Sendable {
    public let store: AgentSessionStore
    let clock: any AgentClock
    let queueLimit: Int
    let flushBytes: Int
    let flushInterval: TimeInterval
    let logger: Logger

    struct Pending {
        var type: AgentEventType
        var text: String
        var since: Date
    }

    final class Subscriber: Sendable {
        let continuation: AsyncStream<AgentEvent>.Continuation
        let overflowed = Atomic<Bool>(false)
        /// Set by the stream's termination handler, which must not take the hub's lock: AsyncStream
        /// runs that handler under its own lock, and `publishLocked` holds the hub's lock while it
        /// yields (takes the stream's), so taking the hub's lock there deadlocked a reader that went
        /// away while an event was being published. The hub drops such readers itself.
        let terminated = Atomic<Bool>(false)
        let onOverflow: @Sendable () -> Void
        init(_ continuation: AsyncStream<AgentEvent>.Continuation, onOverflow: @escaping @Sendable () -> Void) {
            self.continuation = continuation
            self.onOverflow = onOverflow
        }
    }

    struct State: ~Copyable {
        var pending: [String: Pending] = [:]
        var subscribers: [String: [Int: Subscriber]] = [:]
        var nextSubscriber = 0
        /// Dropped readers, finished once the lock is released (finishing runs their
        /// termination handler, which takes the lock).
        var dropped: [Subscriber] = []
    }

    let state = Mutex(State())

    public init(store: AgentSessionStore, clock: any AgentClock = SystemAgentClock(), queueLimit: Int = 1024,
                flushBytes: Int = 512, flushInterval: TimeInterval = 0.1, logger: Logger) {
        self.store = store
        self.clock = clock
        self.queueLimit = max(1, queueLimit)
        self.flushBytes = max(1, flushBytes)
        self.flushInterval = flushInterval
        self.logger = logger
    }

    /// Stores one event (after any gathered deltas of the session) and publishes it.
    @discardableResult
    public func append(_ sessionId: String, _ type: AgentEventType, _ fields: [String: AgentJSON]) throws -> AgentEvent {
        defer { finishDropped() }
        return try state.withLock { state in
            try flushLocked(&state, sessionId, final: false)
            return try storeLocked(&state, sessionId, type, AgentJSON.encode(fields))
        }
    }

    /// Stores a user message once per idempotency key.
    public func appendMessage(_ sessionId: String, _ fields: [String: AgentJSON], idempotencyKey: String?) throws -> (event: AgentEvent, duplicate: Bool) {
        guard let idempotencyKey else { return (try append(sessionId, .message, fields), false) }
        defer { finishDropped() }
        return try state.withLock { state in
            try flushLocked(&state, sessionId, final: false)
            let (event, duplicate) = try store.append(sessionId, .message, data: AgentJSON.encode(fields), at: clock.now(), idempotencyKey: idempotencyKey)
            if !duplicate { publishLocked(&state, event) }
            return (event, duplicate)
        }
    }

    /// Gathers a text (`.message`) or thinking (`.thinking`) delta of the assistant's answer.
    public func appendDelta(_ sessionId: String, _ type: AgentEventType, _ text: String) throws {
        defer { finishDropped() }
        try state.withLock { state in
            let now = clock.now()
            if let pending = state.pending[sessionId], pending.type != type {
                try flushLocked(&state, sessionId, final: true)
            }
            // The first delta of a block is stored at once: a reader sees the first token as soon
            // as the provider sends it (time to first token), and the rest is batched.
            let opens = state.pending[sessionId] == nil
            var pending = state.pending[sessionId] ?? Pending(type: type, text: "", since: now)
            pending.text += text
            state.pending[sessionId] = pending
            if opens || pending.text.utf8.count >= flushBytes || now.timeIntervalSince(pending.since) >= flushInterval {
                try flushLocked(&state, sessionId, final: false)
            }
        }
    }

    /// Ends the assistant's current message or thinking block: stores what is gathered with
    /// `partial: false`, so a reader knows the block is whole.
    public func endDelta(_ sessionId: String) throws {
        defer { finishDropped() }
        try state.withLock { state in try flushLocked(&state, sessionId, final: true) }
    }

    /// Stores what is gathered now, still partial (a step boundary, or a timer).
    public func flush(_ sessionId: String) throws {
        defer { finishDropped() }
        try state.withLock { state in try flushLocked(&state, sessionId, final: false) }
    }

    private func finishDropped() {
        let dropped = state.withLock { state in
            defer { state.dropped = [] }
            return state.dropped
        }
        for subscriber in dropped {
            subscriber.continuation.finish()
            subscriber.onOverflow()
        }
    }

    private func flushLocked(_ state: inout State, _ sessionId: String, final: Bool) throws {
        guard let pending = state.pending[sessionId] else { return }
        if !final && pending.text.isEmpty { return }
        if final { state.pending[sessionId] = nil } else { state.pending[sessionId] = Pending(type: pending.type, text: "", since: clock.now()) }
        let fields: [String: AgentJSON] = ["role": .string("assistant"), "text": .string(pending.text), "partial": .bool(!final)]
        _ = try storeLocked(&state, sessionId, pending.type, AgentJSON.encode(fields))
    }

    private func storeLocked(_ state: inout State, _ sessionId: String, _ type: AgentEventType, _ data: String) throws -> AgentEvent {
        let event = try store.append(sessionId, type, data: data, at: clock.now())
        publishLocked(&state, event)
        return event
    }

    private func publishLocked(_ state: inout State, _ event: AgentEvent) {
        Self.pruneLocked(&state, event.sessionId)
        guard let subscribers = state.subscribers[event.sessionId] else { return }
        for (id, subscriber) in subscribers {
            if case .dropped = subscriber.continuation.yield(event) {
                subscriber.overflowed.store(true, ordering: .sequentiallyConsistent)
                state.subscribers[event.sessionId]?[id] = nil
                state.dropped.append(subscriber)
                logger.notice("agent event reader dropped: too slow", metadata: ["agent.session": "\(event.sessionId)", "agent.queue": "\(queueLimit)"])
            }
        }
    }

    /// Every event after `seq`: first from the store, then live, each once and in order.
    /// `onOverflow` runs when the reader is dropped
    /// for being too slow, so a reader stuck writing to its client can close the connection.
    public func subscribe(_ sessionId: String, after seq: Int64, onOverflow: @escaping @Sendable () -> Void = {}) -> AgentEventSubscription {
        let (stream, continuation) = AsyncStream<AgentEvent>.makeStream(bufferingPolicy: .bufferingOldest(queueLimit))
        let subscriber = Subscriber(continuation, onOverflow: onOverflow)
        state.withLock { state in Self.pruneLocked(&state, sessionId) }
        let id = state.withLock { state in
            let id = state.nextSubscriber
            state.nextSubscriber &+= 1
            state.subscribers[sessionId, default: [:]][id] = subscriber
            return id
        }
        _ = id
        continuation.onTermination = { [subscriber] _ in
            subscriber.terminated.store(true, ordering: .sequentiallyConsistent)
        }
        return AgentEventSubscription(store: store, sessionId: sessionId, after: seq, live: stream, subscriber: subscriber)
    }

    /// Ends every reader of the session (it was deleted).
    public func close(_ sessionId: String) {
        let subscribers = state.withLock { state in
            state.pending[sessionId] = nil
            return state.subscribers.removeValue(forKey: sessionId) ?? [:]
        }
        for subscriber in subscribers.values { subscriber.continuation.finish() }
    }

    public func readerCount(_ sessionId: String) -> Int {
        state.withLock { state in
            Self.pruneLocked(&state, sessionId)
            return state.subscribers[sessionId]?.count ?? 0
        }
    }

    /// Forgets the session's readers that went away.
    private static func pruneLocked(_ state: inout State, _ sessionId: String) {
        guard let subscribers = state.subscribers[sessionId] else { return }
        let live = subscribers.filter { !$0.value.terminated.load(ordering: .sequentiallyConsistent) }
        state.subscribers[sessionId] = live.isEmpty ? nil : live
    }
}

/// A reader fell further behind than its queue allows and was dropped.
public struct AgentReaderTooSlow: Error {}

/// The events of one session after a cursor: the stored ones, then the live tail.
public struct AgentEventSubscription: AsyncSequence, Sendable {
    public typealias Element = AgentEvent
    let store: AgentSessionStore
    let sessionId: String
    let after: Int64
    let live: AsyncStream<AgentEvent>
    let subscriber: AgentEventHub.Subscriber

    public struct AsyncIterator: AsyncIteratorProtocol {
        let store: AgentSessionStore
        let sessionId: String
        var delivered: Int64
        var replay: [AgentEvent] = []
        var replayDone = false
        var live: AsyncStream<AgentEvent>.AsyncIterator
        let subscriber: AgentEventHub.Subscriber

        public mutating func next() async throws -> AgentEvent? {
            while true {
                // `replay` holds the page newest first, so taking the next event is a popLast, not a
                // removeFirst that shifted the rest of the page each time.
                if let event = replay.popLast() {
                    delivered = event.seq
                    return event
                }
                if !replayDone {
                    replay = try store.events(sessionId, after: delivered, limit: 256).reversed()
                    if replay.isEmpty { replayDone = true }
                    continue
                }
                guard let event = await live.next() else {
                    if subscriber.overflowed.load(ordering: .sequentiallyConsistent) { throw AgentReaderTooSlow() }
                    return nil
                }
                if event.seq <= delivered { continue }
                if event.seq > delivered &+ 1 {
                    // Cannot happen while writes and publications share one lock; read the store
                    // rather than ever skip.
                    replay = Array((try store.events(sessionId, after: delivered, limit: 256).filter { $0.seq < event.seq } + [event]).reversed())
                    continue
                }
                delivered = event.seq
                return event
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(store: store, sessionId: sessionId, delivered: Swift.max(0, after), live: live.makeAsyncIterator(), subscriber: subscriber)
    }
}

/// A resume cursor from a client (`Last-Event-ID`): 1 to 19 ASCII digits that fit an Int64.
public enum AgentEventCursor {
    public static func parse(_ text: String) -> Int64? {
        let digits = Array(text.utf8)
        guard (1...19).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        var value: Int64 = 0
        for digit in digits {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(digit - 0x30))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }
}
