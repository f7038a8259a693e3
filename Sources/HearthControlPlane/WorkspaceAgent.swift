public import HearthCore
package import HearthRuntime
import HearthWire

/// The typed face of one running workspace's agent. Routes ask it for files, processes, ports and
/// tunnels; the wire protocol (requests, replies, control frames, credit) stops here, and every
/// `WireError` becomes a `HearthError` once, in `HearthError(agent:)`.
///
/// Get one from `WorkspaceManager.agent(for:)` after resolving the workspace once per request.
public struct WorkspaceAgent: Sendable {
    public let workspaceID: String
    let connection: AgentConnection
    /// Where execs and tunnels this caller starts count as use (idle timeouts); nil: they do not
    /// (a terminal's shell, which lives on while nobody types).
    let activity: WorkspaceActivity?

    package init(workspaceID: String, connection: AgentConnection, activity: WorkspaceActivity? = nil) {
        self.workspaceID = workspaceID
        self.connection = connection
        self.activity = activity
    }

    private func use() -> WorkspaceUse? { activity.map { WorkspaceUse(workspaceID, $0) } }

    // MARK: Files

    public func list(_ path: String) async throws -> [WorkspaceFile] {
        guard case .directory(let entries) = try await call(.listDirectory(path: path)) else { throw Self.unexpected }
        return entries.map(WorkspaceFile.init)
    }

    public func stat(_ path: String) async throws -> WorkspaceFile {
        guard case .file(let stat) = try await call(.stat(path: path)) else { throw Self.unexpected }
        return WorkspaceFile(stat)
    }

    public func remove(_ path: String, recursive: Bool) async throws {
        _ = try await call(.remove(path: path, recursive: recursive))
    }

    public func makeDirectory(_ path: String, parents: Bool = true) async throws {
        _ = try await call(.makeDirectory(path: path, parents: parents))
    }

    public func move(from: String, to: String, overwrite: Bool) async throws {
        _ = try await call(.move(from: from, to: to, overwrite: overwrite))
    }

    /// Opens a file for reading: its stat first (the agent sends it before any byte), then its bytes.
    public func read(_ path: String) async throws -> FileContent {
        let stream = try await HearthError.mapping { try await connection.open(.readFile(path: path, offset: nil, length: nil), maxWindow: HostStream.relayWindow) }
        do {
            for try await event in stream {
                if case .control(.result(.file(let stat))) = event {
                    return FileContent(file: WorkspaceFile(stat), bytes: AgentByteStream(stream))
                }
                if case .control(.failed(let error)) = event { throw AgentError(error) }
            }
            throw HearthError.agentWentAway
        } catch {
            stream.close()
            throw error is CancellationError ? error : HearthError.from(error)
        }
    }

    /// Opens a file for writing. The agent replaces it atomically when the upload finishes; with
    /// `ifUnchangedSince` (an mtime the client saw), the agent itself refuses the replacement if the
    /// file changed since, under the same lock as the rename, so two such writes cannot both win.
    public func write(_ path: String, mode: UInt32? = nil, ifUnchangedSince mtime: Double? = nil) async throws -> FileUpload {
        if let mtime {
            guard mtime.isFinite else { throw HearthError(.invalidArgument, "if_mtime must be a finite number") }
            guard (connection.peer?.version ?? 0) >= WireVersion.conditionalWrite else {
                throw HearthError(.conflict, "the workspace agent is too old to save only if the file is unchanged; restart the workspace",
                                  detail: "agent version \(connection.peer?.version ?? 0)")
            }
        }
        let request = Request.writeFile(path: path, mode: mode, createParents: true, ifUnchangedSince: mtime)
        return FileUpload(try await HearthError.mapping { try await connection.open(request) })
    }

    // MARK: Processes, ports, tunnels

    public func exec(_ command: ExecCommand) async throws -> ExecSession {
        let stream = try await HearthError.mapping { try await connection.open(.exec(command.wire)) }
        return ExecSession(stream: stream, pty: command.pty != nil, use: use())
    }

    /// Re-binds a detachable terminal (an exec with `session`) whose session went away, for
    /// example across a pause: the process's output while unbound comes first.
    public func attachTerminal(session: String) async throws -> ExecSession {
        let stream = try await HearthError.mapping { try await connection.open(.attachTerminal(session: session)) }
        return ExecSession(stream: stream, pty: true)
    }

    public func ports() async throws -> [WorkspacePort] {
        guard case .ports(let ports) = try await call(.listPorts) else { throw Self.unexpected }
        return ports.map { WorkspacePort(port: $0.port, address: $0.address, family: $0.family) }
    }

    /// A TCP connection to `port` on the workspace's loopback, once the agent has connected it.
    ///
    /// `first`: bytes sent right behind the open, before the agent's answer, so a request that
    /// opens a tunnel to send one message (a preview) waits for one guest round trip, not two.
    /// The agent queues them on the stream until the connection is made; a refused port drops them.
    public func tunnel(port: UInt16, sending first: [UInt8] = []) async throws -> TunnelStream {
        let stream = try await HearthError.mapping { try await connection.open(.tunnel(port: port), maxWindow: HostStream.relayWindow) }
        do {
            if !first.isEmpty { _ = try await HearthError.mapping { try await stream.send(.bytes, first) } }
            for try await event in stream {
                if case .control(.result(.ok)) = event { return AgentByteStream(stream, use: use()) }
                if case .control(.failed(let error)) = event {
                    if error.code == .connectionRefused { throw TunnelRefused(port: port, error: HearthError(agent: error)) }
                    throw AgentError(error)
                }
            }
            throw HearthError.agentWentAway
        } catch {
            stream.close()
            throw error is CancellationError || error is TunnelRefused ? error : HearthError.from(error)
        }
    }

    private func call(_ request: Request) async throws -> Reply {
        try await HearthError.mapping { try await connection.call(request) }
    }

    static let unexpected = HearthError(.internal, "unexpected agent reply")
}

/// A file being read: what it is, and its bytes.
public struct FileContent: Sendable {
    public let file: WorkspaceFile
    public let bytes: AgentByteStream
}

public typealias TunnelStream = AgentByteStream

/// Nothing listens on the port a tunnel asked for. `error` is the agent's refusal as a
/// `HearthError` (what `HearthError.from` gives); a route that answers in its own words (a
/// preview's error page) can tell this case from others without seeing the wire.
public struct TunnelRefused: Error, Sendable {
    public let port: UInt16
    public let error: HearthError
}
