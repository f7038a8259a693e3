import HearthCore
import HearthIdentity
import HearthRuntime
import HearthSessions
import HearthWire

/// A terminal's shell on an agent stream: the narrow seam between the session hub (no frames)
/// and the agent channel. Pulled by the terminal's pump only, so the agent's credit is granted
/// only as fast as clients acknowledge.
struct HostStreamTerminalBackend: TerminalBackend {
    let stream: HostStream

    init(_ stream: HostStream) {
        self.stream = stream
    }

    func next() async throws -> TerminalEvent? {
        while let event = try await stream.next() {
            switch event {
            case .data(_, let bytes): return .output(bytes)
            case .control(.exited(let status)): return .exited(TerminalExit(code: status.code, signal: status.signal))
            case .control(.failed(let error)): return .failed(error.message)
            default: continue
            }
        }
        return nil
    }

    func send(_ bytes: [UInt8]) async throws {
        _ = try await stream.send(.bytes, bytes)
    }

    func resize(rows: UInt16, cols: UInt16) async throws {
        try await stream.sendControl(.resize(PTYSize(rows: rows, cols: cols)))
    }

    func hangUp() async {
        try? await stream.sendControl(.signal(1))
    }

    func close() {
        stream.close()
    }

}

extension TerminalCaller {
    /// A browser session stands for its user, a token only for itself.
    init(_ principal: Principal) {
        let key = switch principal.credential {
        case .token(let id): "token:\(id)"
        case .session: "user:\(principal.userId)"
        }
        self.init(key: key, canWrite: principal.role.canWrite)
    }
}
