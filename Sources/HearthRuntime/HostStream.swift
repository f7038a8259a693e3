public import HearthCore
public import HearthWire
public import Synchronization

/// What the agent sends on one stream.
public enum StreamEvent: Sendable, Equatable {
    case data(DataChannel, [UInt8])
    case eof(DataChannel)
    case control(Control)
}

/// One operation on an agent connection, seen from the host.
///
/// Inbound data is bounded by the credit the host granted; asking for the next event with `next()`
/// grants the last one's credit back (a quarter window at a time). A guest that sends beyond its
/// credit, or floods control frames, breaks the connection.
///
/// With an agent of version 5 the window starts at `WireLimits.agentStartWindow` and doubles, up
/// to the stream's `maxWindow` (`initialWindow`, or `relayWindow` for what is relayed to an HTTP
/// client), each time the reader has taken four windows' worth and emptied the buffer doing so: a
/// reader that keeps up (an exec streaming to a fast client) gets the large window that gVisor's
/// costly syscalls need, while a reader that stalls early holds only the small one.
public final class HostStream: AsyncSequence, Sendable {
    public typealias Element = StreamEvent

    private struct State {
        var events: [StreamEvent] = []
        var head = 0
        var bufferedBytes = 0
        var pendingControls = 0
        /// Payload bytes of the buffered non-data events: bounded too, since a control frame may
        /// carry up to a whole frame of JSON that no credit limits.
        var pendingControlBytes = 0
        var waiter: CheckedContinuation<StreamEvent?, any Error>?
        var finished = false
        var failure: (any Error)?
        var sendCredit = WireLimits.initialWindow
        /// The agent → host window: the most data this stream may hold unread.
        var receiveWindow: Int
        /// What `receiveWindow` may grow to.
        let maxWindow: Int
        /// Data taken since the window last grew.
        var takenSinceGrowth = 0
        /// The bytes of the data event the reader took last: still in its hands until it asks for
        /// the next event, so their credit waits until then. What the host holds for a stream (its
        /// queue and what its reader holds) is then at most the window, not the window and a frame.
        var inHand = 0
        /// Bytes consumed whose credit has not gone back: returned together once they reach a
        /// quarter of the window, so a stream of small writes (a terminal's echo) does not cost a
        /// window frame each, here and in the guest.
        var owed = 0
        /// The agent ended the operation in order: what it sent is still read, but it reads no more
        /// input, so no credit will come (a write that hit a full disk, a process that exited).
        var endedByAgent = false
        var creditWaiters: [CheckedContinuation<Void, any Error>] = []
        /// Controls sent with `sendControlUnlessBacklogged` that have not left yet.
        var unflushedControls = 0

        init(receiveWindow: Int, maxWindow: Int) {
            self.receiveWindow = receiveWindow
            self.maxWindow = maxWindow
        }

        /// Called as the reader asks for its next event, so the last one is consumed: the credit
        /// to hand back now (0 for none yet), with the window's growth when the reader keeps up.
        /// Never deadlocks: a sender out of credit means queue, hand and debt fill the window, so
        /// once the queue is read the debt is all of it.
        mutating func creditReturned() -> Int {
            guard inHand > 0 else { return 0 }
            owed += inHand
            takenSinceGrowth += inHand
            inHand = 0
            var growth = 0
            if receiveWindow < maxWindow, bufferedBytes == 0, takenSinceGrowth >= 4 * receiveWindow {
                growth = Swift.min(receiveWindow, maxWindow - receiveWindow)
                receiveWindow += growth
                takenSinceGrowth = 0
            }
            guard growth > 0 || 4 * owed >= receiveWindow else { return 0 }
            defer { owed = 0 }
            return owed + growth
        }

        mutating func take() -> StreamEvent? {
            guard head < events.count else { return nil }
            let event = events[head]
            head += 1
            if head == events.count {
                events.removeAll(keepingCapacity: true)
                head = 0
            }
            switch event {
            case .data(_, let bytes):
                bufferedBytes -= bytes.count
                inHand = bytes.count
            case .eof, .control: pendingControls -= 1
            }
            if case .control = event, let cost = controlCosts.first {
                pendingControlBytes -= cost
                controlCosts.removeFirst()
            }
            return event
        }

        /// Payload sizes of the buffered controls, in order (at most `maxPendingControls`).
        var controlCosts: [Int] = []

        /// Queues `event`. A data event joins the data event before it on the same channel, up to
        /// `maxCoalescedData`, so a guest that sends its credit one byte per frame costs at most
        /// a hundred-odd buffered events, not a million, and a reader that paces itself by events
        /// (a terminal waiting for acknowledgements) gets little more at once than was sent.
        mutating func append(_ event: StreamEvent, payloadSize: Int) throws(WireError) {
            switch event {
            case .data(let channel, let bytes):
                bufferedBytes += bytes.count
                // The agent's credit is the window less what is queued, in the reader's hands and
                // consumed without its credit back.
                guard bufferedBytes + inHand + owed <= receiveWindow else {
                    throw WireError(.flowControlViolation, "guest sent \(bufferedBytes) bytes beyond its credit")
                }
                if head < events.count, case .data(let lastChannel, var last) = events[events.count - 1], lastChannel == channel,
                   last.count + bytes.count <= WireLimits.maxCoalescedData {
                    events[events.count - 1] = .data(channel, [])  // Drop the reference so the append does not copy.
                    last.append(contentsOf: bytes)
                    events[events.count - 1] = .data(channel, last)
                    return
                }
            case .eof, .control:
                pendingControls += 1
                guard pendingControls <= WireLimits.maxPendingControls else {
                    throw WireError(.protocolViolation, "guest flooded the stream with control frames")
                }
                if case .control = event {
                    pendingControlBytes += payloadSize
                    controlCosts.append(payloadSize)
                    guard pendingControlBytes <= WireLimits.maxPendingControlBytes else {
                        throw WireError(.protocolViolation, "guest sent \(pendingControlBytes) bytes of unread control messages")
                    }
                }
            }
            events.append(event)
        }
    }

    public let id: UInt32
    private let connection: AgentConnection
    private let state: Mutex<State>

    /// `receiveWindow`: the credit the agent starts with, which its protocol version decides.
    init(id: UInt32, connection: AgentConnection, receiveWindow: Int, maxWindow: Int) {
        self.id = id
        self.connection = connection
        self.state = Mutex(State(receiveWindow: receiveWindow, maxWindow: maxWindow))
    }

    /// The window of a stream relayed to an HTTP client (a download, a preview body, a port
    /// tunnel): what such a stream holds when its client stops reading. It does not grow: a client
    /// on loopback or a fast link looks like one that keeps up until the kernel's send buffer (up
    /// to 4 MiB) is full, by which time a growing window has reached `WireLimits.initialWindow`,
    /// and 100 stalled downloads held 86 MiB instead of 41 (BENCHMARKS.md, "slow readers").
    /// Exec output, whose throughput needs the large window inside gVisor, keeps growing.
    public static let relayWindow = WireLimits.agentStartWindow

    /// What the stream holds unread: data bytes, queued events, and control payload bytes.
    /// Each is bounded (`WireLimits`); exposed so tests can check the bound holds.
    public var buffered: (bytes: Int, events: Int, controlBytes: Int) {
        state.withLock { ($0.bufferedBytes, $0.events.count - $0.head, $0.pendingControlBytes) }
    }

    /// The agent → host window now: what the stream may hold unread.
    public var receiveWindow: Int { state.withLock { $0.receiveWindow } }

    // MARK: Receiving

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: HostStream
        public mutating func next() async throws -> StreamEvent? { try await stream.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }

    public func next() async throws -> StreamEvent? {
        // At most 2 × initialWindow: no truncation.
        let credit = state.withLock { $0.creditReturned() }
        if credit > 0 { connection.writeQuietly(.window(id, UInt32(credit))) }
        let event: StreamEvent? = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<StreamEvent?, any Error>? = state.withLock { s in
                    if let event = s.take() { return .success(event) }
                    if let failure = s.failure { return .failure(failure) }
                    if s.finished { return .success(nil) }
                    s.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            self.finish(throwing: CancellationError())
        }
        return event
    }

    func deliver(_ frame: Frame) throws(WireError) {
        let event: StreamEvent
        switch frame.kind {
        case .data:
            // Every frame must cost its sender something: an empty one costs no credit, so an honest
            // agent never sends one (version 3) and a flood of them is refused, not queued.
            guard frame.payload.count > 1 else { throw WireError(.protocolViolation, "empty data frame") }
            event = .data(try frame.channel(), Array(frame.dataBytes))
        case .eof:
            event = .eof(try frame.channel())
        case .control:
            event = .control(try WireCoding.decode(Control.self, from: frame.payload))
        case .window:
            let increment = try frame.windowIncrement()
            guard increment > 0 else { throw WireError(.protocolViolation, "empty window frame") }
            let waiters: [CheckedContinuation<Void, any Error>] = try state.withLock { s throws(WireError) in
                guard s.sendCredit + Int(increment) <= Int(Int32.max) else {
                    throw WireError(.flowControlViolation, "window overflow")
                }
                s.sendCredit += Int(increment)
                defer { s.creditWaiters.removeAll() }
                return s.creditWaiters
            }
            waiters.forEach { $0.resume() }
            return
        case .reset:
            guard frame.payload.isEmpty else {
                let error = try? WireCoding.decode(WireError.self, from: frame.payload)
                finish(throwing: AgentError(error ?? WireError(.closed, "the agent reset the operation")))
                return
            }
            state.withLock { $0.endedByAgent = true }
            finish(throwing: nil)
            return
        default:
            throw WireError(.protocolViolation, "unexpected \(frame.kind) on a stream")
        }
        // The waiter and its event are taken under one lock: a `finish` in between would empty the
        // queue and hand the reader an orderly end instead of the error.
        let handoff: (CheckedContinuation<StreamEvent?, any Error>, StreamEvent?)? = try state.withLock { s throws(WireError) in
            if s.finished { return nil }
            try s.append(event, payloadSize: frame.payload.count)
            guard let waiter = s.waiter else { return nil }
            s.waiter = nil
            return (waiter, s.take())
        }
        if let handoff { handoff.0.resume(returning: handoff.1) }
    }

    /// Ends the stream for its reader: with `error`, or in order when nil.
    func finish(throwing error: (any Error)?) {
        let (waiter, creditWaiters) = state.withLock { s -> (CheckedContinuation<StreamEvent?, any Error>?, [CheckedContinuation<Void, any Error>]) in
            if s.finished { return (nil, []) }
            s.finished = true
            s.failure = error
            // After a failure nothing the peer sent may still be trusted or delivered.
            if error != nil {
                s.events.removeAll()
                s.head = 0
                s.bufferedBytes = 0
                s.pendingControls = 0
                s.pendingControlBytes = 0
                s.controlCosts.removeAll()
            }
            defer {
                s.waiter = nil
                s.creditWaiters.removeAll()
            }
            return (s.waiter, s.creditWaiters)
        }
        if let waiter {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
        // Waiting senders look at the final state themselves.
        creditWaiters.forEach { $0.resume() }
    }

    // MARK: Sending

    /// Sends bytes on a channel, waiting for the agent to grant credit. Returns false, sending
    /// nothing more, once the agent has ended the operation: its outcome is in the stream's events.
    @discardableResult
    public func send(_ channel: DataChannel, _ bytes: some Collection<UInt8>) async throws -> Bool {
        var rest = bytes[...]
        while !rest.isEmpty {
            guard let grant = try await reserveCredit(upTo: Swift.min(rest.count, WireLimits.maxDataChunk)) else { return false }
            try await connection.write(.data(id, channel, rest.prefix(grant)))
            rest = rest.dropFirst(grant)
        }
        return true
    }

    public func sendEOF(_ channel: DataChannel) async throws {
        try await connection.write(.eof(id, channel))
    }

    public func sendControl(_ control: Control) async throws {
        try await connection.write(.control(id, control))
    }

    /// Sends a control without waiting for it to be written; false, sending nothing, when the
    /// stream is closed or `backlog` of this stream's earlier ones have not left yet (the agent
    /// is not reading). For answers to a guest's own requests, which must neither queue without
    /// bound nor hold their writer. Judged per stream, not by the connection's writability, which
    /// any large write of another stream takes away for a moment.
    public func sendControlUnlessBacklogged(_ control: Control, backlog: Int = 2) -> Bool {
        let admitted = state.withLock { s -> Bool in
            guard !s.finished, s.unflushedControls < backlog else { return false }
            s.unflushedControls += 1
            return true
        }
        guard admitted else { return false }
        connection.writeNotifying(.control(id, control)) { [weak self] in
            self?.state.withLock { $0.unflushedControls -= 1 }
        }
        return true
    }

    /// Credit for up to `wanted` bytes, or nil once the agent has ended the operation.
    private func reserveCredit(upTo wanted: Int) async throws -> Int? {
        while true {
            let granted: Int?? = try state.withLock { s in
                if let failure = s.failure { throw failure }
                if s.endedByAgent { return .some(nil) }
                if s.finished { throw HearthError(.agentUnavailable, "the operation is closed") }
                guard s.sendCredit > 0 else { return nil }
                let n = Swift.min(wanted, s.sendCredit)
                s.sendCredit -= n
                return n
            }
            if let granted { return granted }
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.sendCredit > 0 || s.finished { return true }
                    s.creditWaiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// Closes the stream from the host side. Idempotent.
    public func close() {
        let wasOpen = state.withLock { !$0.finished }
        finish(throwing: nil)
        connection.remove(self)
        if wasOpen { connection.writeQuietly(.reset(id, nil)) }
    }
}

