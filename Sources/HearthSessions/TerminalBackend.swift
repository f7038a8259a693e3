/// What a terminal needs from the process it shows, without frames or HTTP: the control plane's
/// exec session (a PTY in a workspace) adapts to it.
///
/// `next()` is pulled by one reader, the terminal's pump, and only as fast as its clients
/// acknowledge: the backend must not read ahead of it, so the guest's own flow control holds the
/// process back.
public protocol TerminalBackend: Sendable {
    /// The next output or the end: nil when the channel to the process went away without an exit
    /// (the workspace was paused or its agent disconnected; the process may still be running).
    func next() async throws -> TerminalEvent?
    func send(_ bytes: [UInt8]) async throws
    func resize(rows: UInt16, cols: UInt16) async throws
    /// SIGHUP to the terminal's session, as closing a terminal window does.
    func hangUp() async
    /// Lets go of the channel; the process is not signalled.
    func close()
}

public enum TerminalEvent: Sendable, Equatable {
    case output([UInt8])
    case exited(TerminalExit)
    /// The agent refused or lost the process; the message is for the client.
    case failed(String)
}

/// How a terminal's process ended. `code` is -1 when it is unknown (the agent went away).
public struct TerminalExit: Sendable, Equatable {
    public var code: Int32
    public var signal: Int32?

    public init(code: Int32, signal: Int32? = nil) {
        self.code = code
        self.signal = signal
    }
}
