#if canImport(Glibc)
import Glibc
#endif
import HearthWire

/// What an exec writes to and reads from: its own stream, or a detachable terminal's binding.
protocol ExecChannel: Sendable {
    @discardableResult func send(_ channel: DataChannel, _ bytes: ArraySlice<UInt8>) -> Bool
    func sendControl(_ control: Control)
    func sendEOF(_ channel: DataChannel)
    func handleControls(_ handler: @escaping @Sendable (Control) -> Void)
    func receive() -> AgentStream.Inbound?
}

extension AgentStream: ExecChannel {}

/// A PTY session that outlives its stream (a detachable terminal, `ExecRequest.session`).
///
/// While a stream is bound, output goes to it and input comes from it, as for any exec. When the
/// stream goes away (the host quiesced the channel for a pause, or the connection dropped) the
/// process runs on: its output is drained into a tail of the newest `tailLimit` bytes, so it is
/// never blocked on a full PTY, and its input waits. `attachTerminal` binds a new stream, which
/// gets the tail first. The exit is reported to the bound stream, or kept for the next one.
final class DetachableTerminal: ExecChannel, @unchecked Sendable {
    static let tailLimit = 64 * 1024

    private let lock = ConditionLock()
    private var stream: AgentStream?
    private var tail: [UInt8] = []
    private var exit: ExitStatus?
    private var controlHandler: (@Sendable (Control) -> Void)?

    init(_ stream: AgentStream) {
        self.stream = stream
    }

    /// Binds `new`: the tail, then live output. False if the process has exited (the exit and the
    /// tail were sent to `new`, and the terminal is forgotten).
    func bind(_ new: AgentStream) {
        var replay: [UInt8] = []
        while true {
            let (bytes, exited, handler) = lock.withLock { () -> ([UInt8], ExitStatus?, (@Sendable (Control) -> Void)?) in
                let bytes = Array(tail.suffix(Self.tailLimit))
                tail = []
                if bytes.isEmpty, exit == nil {
                    stream?.close()
                    stream = new
                    lock.broadcast()
                }
                return (bytes, exit, controlHandler)
            }
            replay += bytes
            if !replay.isEmpty {
                new.send(.bytes, replay[...])
                replay = []
                continue
            }
            if let exited {
                new.sendControl(.exited(exited))
                return
            }
            if let handler { new.handleControls(handler) }
            return
        }
    }

    /// Blocks until `bound` is no longer this terminal's stream or the process has exited.
    func waitWhileBound(_ bound: AgentStream) {
        lock.withLock {
            while stream === bound, exit == nil, !bound.isClosed {
                lock.wait(untilMonotonicNanos: monotonicNanos() + 200_000_000)
            }
        }
    }

    private func current() -> AgentStream? { lock.withLock { stream } }

    private func unbind(_ gone: AgentStream) {
        lock.withLock {
            if stream === gone { stream = nil }
            lock.broadcast()
        }
    }

    private func keep(_ bytes: ArraySlice<UInt8>) {
        lock.withLock {
            // Trimmed only past twice the limit, so each byte is moved O(1) times however small the
            // writes; a bind sends the newest `tailLimit` bytes.
            tail.append(contentsOf: bytes.suffix(Self.tailLimit))
            if tail.count > 2 * Self.tailLimit { tail.removeFirst(tail.count - Self.tailLimit) }
        }
    }

    func send(_ channel: DataChannel, _ bytes: ArraySlice<UInt8>) -> Bool {
        if let stream = current() {
            if stream.send(channel, bytes) { return true }
            unbind(stream)
        }
        keep(bytes)
        // Always "delivered": the pump keeps draining, so the process never blocks.
        return true
    }

    func sendControl(_ control: Control) {
        if case .exited(let status) = control {
            // Sent before the exit is recorded: recording it ends the attach operation, whose
            // stream then closes and would drop a later frame.
            let bound = current()
            bound?.sendControl(control)
            let rebound = lock.withLock { () -> AgentStream? in
                exit = status
                lock.broadcast()
                return stream === bound ? nil : stream
            }
            // Bound in between: that stream is told too.
            rebound?.sendControl(control)
            if bound != nil || rebound != nil { DetachableTerminals.shared.forget(self) }
            return
        }
        current()?.sendControl(control)
    }

    func sendEOF(_ channel: DataChannel) {
        current()?.sendEOF(channel)
    }

    func handleControls(_ handler: @escaping @Sendable (Control) -> Void) {
        let bound = lock.withLock { () -> AgentStream? in
            controlHandler = handler
            return stream
        }
        bound?.handleControls(handler)
    }

    /// Input from whichever stream is bound; waits while none is. Nil once the process exited.
    func receive() -> AgentStream.Inbound? {
        while true {
            let bound = lock.withLock { () -> AgentStream? in
                while stream == nil, exit == nil { lock.wait(untilMonotonicNanos: monotonicNanos() + 200_000_000) }
                return stream
            }
            guard let bound else { return nil }
            if let item = bound.receive() { return item }
            unbind(bound)
        }
    }

    var hasExited: Bool { lock.withLock { exit != nil } }
}

/// The agent's detachable terminals by key. At most `limit`; the oldest exited one goes first.
final class DetachableTerminals: @unchecked Sendable {
    static let shared = DetachableTerminals()
    static let limit = 256

    private let lock = ConditionLock()
    private var terminals: [String: DetachableTerminal] = [:]

    /// Registers a terminal; false if the key is taken or the table is full of live terminals.
    func register(_ key: String, _ terminal: DetachableTerminal) -> Bool {
        lock.withLock {
            guard terminals[key] == nil, !key.isEmpty, key.utf8.count <= 128 else { return false }
            if terminals.count >= Self.limit, let done = terminals.first(where: { $0.value.hasExited })?.key {
                terminals.removeValue(forKey: done)
            }
            guard terminals.count < Self.limit else { return false }
            terminals[key] = terminal
            return true
        }
    }

    func lookup(_ key: String) -> DetachableTerminal? { lock.withLock { terminals[key] } }

    func forget(_ terminal: DetachableTerminal) {
        lock.withLock {
            if let key = terminals.first(where: { $0.value === terminal })?.key { terminals.removeValue(forKey: key) }
        }
    }

    /// Serves `attachTerminal`: binds `stream` and holds the operation open while it is bound.
    static func attach(_ key: String, on stream: AgentStream) throws(WireError) {
        guard let terminal = shared.lookup(key) else { throw WireError(.notFound, "no such terminal") }
        terminal.bind(stream)
        terminal.waitWhileBound(stream)
        if terminal.hasExited { shared.forget(terminal) }
    }
}
