public import HearthCore
package import HearthRuntime
import HearthWire

/// Bytes from the agent (a file's content, a tunnel's connection) and, for a tunnel, bytes to it.
/// Reading grants the agent credit; the sequence ends at the agent's end of stream, and throws a
/// `HearthError` if the agent reports a failure or goes away.
public final class AgentByteStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let stream: HostStream
    let use: WorkspaceUse?

    init(_ stream: HostStream, use: WorkspaceUse? = nil) {
        self.stream = stream
        self.use = use
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: HostStream
        public mutating func next() async throws -> [UInt8]? { try await Self.next(stream) }

        static func next(_ stream: HostStream) async throws -> [UInt8]? {
            try await HearthError.mapping {
                while let event = try await stream.next() {
                    switch event {
                    case .data(_, let bytes): return bytes
                    case .eof: return nil
                    case .control(.failed(let error)): throw AgentError(error)
                    case .control: continue
                    }
                }
                return nil
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream) }

    /// The next chunk, or nil at the end. For callers that read a head and then hand the rest on.
    public func next() async throws -> [UInt8]? { try await AsyncIterator.next(stream) }

    /// Sends bytes, waiting for credit. False once the agent has ended the operation.
    @discardableResult
    public func send(_ bytes: some Collection<UInt8>) async throws -> Bool {
        try await HearthError.mapping { try await stream.send(.bytes, bytes) }
    }

    /// Half-closes the agent's side: the guest may still answer.
    public func sendEOF() async throws {
        try await HearthError.mapping { try await stream.sendEOF(.bytes) }
    }

    public func close() {
        stream.close()
        use?.end()
    }
}

/// A file upload: bytes in, then the agent's answer. Close it when done (idempotent).
public final class FileUpload: Sendable {
    let stream: HostStream

    init(_ stream: HostStream) { self.stream = stream }

    /// Sends bytes, waiting for credit. False once the agent has ended the operation (a full disk):
    /// stop sending and call `finish` for its answer.
    @discardableResult
    public func send(_ bytes: some Collection<UInt8>) async throws -> Bool {
        try await HearthError.mapping { try await stream.send(.bytes, bytes) }
    }

    /// Ends the upload and returns the number of bytes the agent wrote.
    public func finish() async throws -> UInt64 {
        try await HearthError.mapping {
            try await stream.sendEOF(.bytes)
            for try await event in stream {
                if case .control(.result(.written(let bytes))) = event { return bytes }
                if case .control(.failed(let error)) = event { throw AgentError(error) }
            }
            throw HearthError(.agentUnavailable, "the workspace agent went away during the write")
        }
    }

    public func close() { stream.close() }
}

/// A process in the workspace: its events (under credit: reading grants the agent more), and
/// its stdin, terminal size and signals.
public final class ExecSession: AsyncSequence, Sendable {
    public typealias Element = ExecEvent
    let stream: HostStream
    /// Where input goes: a PTY's single channel, or the process's stdin pipe.
    let input: DataChannel

    let use: WorkspaceUse?

    /// For tests and the control plane: a session over an already open exec stream.
    package init(stream: HostStream, pty: Bool, use: WorkspaceUse? = nil) {
        self.stream = stream
        self.input = pty ? .bytes : .stdin
        self.use = use
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: HostStream
        var ended = false

        /// Ends after `exited` or `failed`; an agent that goes away without either yields one
        /// `failed`. Errors on the channel are thrown as `HearthError`s.
        public mutating func next() async throws -> ExecEvent? {
            guard !ended else { return nil }
            let event = try await ExecSession.next(stream)
            switch event {
            case .exited?, .failed?: ended = true
            case nil:
                ended = true
                return .failed(HearthError.agentWentAway)
            default: break
            }
            return event
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream) }

    /// The next event, or nil when the channel went away without `exited` or `failed`: unlike the
    /// sequence, no `failed` is made up, because a detachable terminal's process may still run
    /// (`WorkspaceAgent.attachTerminal` reaches it again). For a single reader only.
    public func next() async throws -> ExecEvent? { try await Self.next(stream) }

    static func next(_ stream: HostStream) async throws -> ExecEvent? {
        try await HearthError.mapping {
            while let event = try await stream.next() {
                switch event {
                case .data(.stdout, let bytes), .data(.bytes, let bytes): return .stdout(bytes)
                case .data(.stderr, let bytes): return .stderr(bytes)
                case .control(.started(let pid)): return .started(pid: pid)
                case .control(.exited(let status)): return .exited(ExecExit(status))
                case .control(.failed(let error)): return .failed(HearthError(agent: error))
                default: continue
                }
            }
            return nil
        }
    }

    /// Sends input, waiting for credit. False once the process has ended.
    @discardableResult
    public func send(_ bytes: some Collection<UInt8>) async throws -> Bool {
        try await HearthError.mapping { try await stream.send(input, bytes) }
    }

    public func sendEOF() async throws {
        try await HearthError.mapping { try await stream.sendEOF(input) }
    }

    public func resize(_ size: TerminalSize) async throws {
        try await HearthError.mapping { try await stream.sendControl(.resize(PTYSize(rows: size.rows, cols: size.cols))) }
    }

    /// Sends a signal to the process group.
    public func signal(_ signal: Int32) async throws {
        try await HearthError.mapping { try await stream.sendControl(.signal(signal)) }
    }

    public func close() {
        stream.close()
        use?.end()
    }
}
