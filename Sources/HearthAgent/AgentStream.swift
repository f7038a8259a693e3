#if canImport(Glibc)
import Glibc
#endif
import HearthWire

/// One open stream on the guest side: credit for what it sends, and a bounded queue of what it receives.
final class AgentStream: @unchecked Sendable {
    enum Inbound {
        case data(DataChannel, ArraySlice<UInt8>)
        case eof(DataChannel)
    }

    let id: UInt32
    private let writer: FrameWriter
    private let lock = ConditionLock()
    private var sendCredit: Int
    private var inbound: [Inbound] = []
    private var inboundBytes = 0
    /// Bytes taken whose credit has not gone back to the host yet (`receive`).
    private var owedCredit = 0
    private var closed = false
    /// Handles `control` frames (resize, signal) on the session's reader thread. Must not block.
    private var controlHandler: (@Sendable (Control) -> Void)?
    /// Controls that arrived before the operation installed its handler: a terminal's first
    /// resize follows its open at once, while the process is still being spawned.
    private var earlyControls: [Control] = []
    static let maxEarlyControls = 64
    /// Run once, outside the lock, when the stream closes.
    private var closeHandlers: [@Sendable () -> Void] = []

    /// `sendCredit`: what the host's protocol version lets this stream send before its first window.
    init(id: UInt32, writer: FrameWriter, sendCredit: Int) {
        self.id = id
        self.writer = writer
        self.sendCredit = sendCredit
    }

    var isClosed: Bool { lock.withLock { closed } }

    /// Installs the control handler and hands it, in order, the controls that came before it.
    func handleControls(_ handler: @escaping @Sendable (Control) -> Void) {
        lock.withLock {
            controlHandler = handler
            for control in earlyControls { handler(control) }
            earlyControls = []
        }
    }

    /// Called by the session's reader thread.
    func deliverControl(_ control: Control) {
        lock.withLock {
            if let controlHandler {
                controlHandler(control)
            } else if earlyControls.count < Self.maxEarlyControls {
                earlyControls.append(control)
            }
        }
    }

    /// Sends bytes, waiting for credit. Returns false when the stream or the session is gone.
    @discardableResult
    func send(_ channel: DataChannel, _ bytes: ArraySlice<UInt8>) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            let grant: Int = lock.withLock {
                while sendCredit == 0 && !closed { lock.wait() }
                if closed { return 0 }
                let n = min(sendCredit, rest.count, WireLimits.maxDataChunk)
                sendCredit -= n
                return n
            }
            if grant == 0 { return false }
            if !writer.send(.data(id, channel, rest.prefix(grant))) { return false }
            rest = rest.dropFirst(grant)
        }
        return true
    }

    @discardableResult
    func send(_ frame: Frame) -> Bool {
        if isClosed { return false }
        return writer.send(frame)
    }

    func sendControl(_ control: Control) { send(.control(id, control)) }
    func sendEOF(_ channel: DataChannel) { send(.eof(id, channel)) }

    // MARK: Called by the session's reader thread.

    func grant(_ increment: UInt32) throws(WireError) {
        try lock.withLock { () throws(WireError) in
            let next = sendCredit + Int(increment)
            guard next <= Int(Int32.max) else { throw WireError(.flowControlViolation, "window overflow") }
            sendCredit = next
            lock.broadcast()
        }
    }

    func deliver(_ item: Inbound) throws(WireError) {
        try lock.withLock { () throws(WireError) in
            if closed { return }
            if case .data(_, let bytes) = item {
                inboundBytes += bytes.count
                // The host's credit is the window less what is queued and what was taken without
                // its credit back yet.
                guard inboundBytes + owedCredit <= WireLimits.initialWindow else {
                    throw WireError(.flowControlViolation, "host sent \(inboundBytes) bytes beyond its credit")
                }
            }
            inbound.append(item)
            lock.broadcast()
        }
    }

    /// Blocks for the next inbound item; nil once the stream is closed. Grants the host credit for
    /// what it returns, a quarter of the window at a time: a keystroke then costs no window frame
    /// (a socket write, and a costly syscall inside gVisor) before it reaches the terminal. The host
    /// is never starved: once it is out of credit, what it sent is queued here or owed, so taking
    /// the queue makes the debt the whole window.
    func receive() -> Inbound? {
        let (item, credit): (Inbound?, Int) = lock.withLock {
            while inbound.isEmpty && !closed { lock.wait() }
            if inbound.isEmpty { return (nil, 0) }
            let item = inbound.removeFirst()
            guard case .data(_, let bytes) = item else { return (item, 0) }
            inboundBytes -= bytes.count
            owedCredit += bytes.count
            guard 4 * owedCredit >= WireLimits.initialWindow else { return (item, 0) }
            defer { owedCredit = 0 }
            return (item, owedCredit)
        }
        if credit > 0 { writer.send(.window(id, UInt32(credit))) }
        return item
    }

    /// Runs `handler` once the stream is closed (at once if it is), outside the stream's lock.
    func onClose(_ handler: @escaping @Sendable () -> Void) {
        let already = lock.withLock { () -> Bool in
            if closed { return true }
            closeHandlers.append(handler)
            return false
        }
        if already { handler() }
    }

    func close() {
        let handlers = lock.withLock { () -> [@Sendable () -> Void] in
            closed = true
            lock.broadcast()
            defer { closeHandlers = [] }
            return closeHandlers
        }
        for handler in handlers { handler() }
    }
}
