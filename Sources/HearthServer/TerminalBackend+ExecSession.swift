import HearthControlPlane
import HearthCore
import HearthIdentity
import HearthSessions

/// A terminal's shell as the control plane's exec session: the narrow seam between the session
/// hub (no frames) and the workspace agent. Pulled by the terminal's pump only, so the agent's
/// credit is granted only as fast as clients acknowledge.
struct ExecSessionTerminalBackend: TerminalBackend {
    let session: ExecSession

    init(_ session: ExecSession) {
        self.session = session
    }

    func next() async throws -> TerminalEvent? {
        while let event = try await session.next() {
            switch event {
            case .stdout(let bytes), .stderr(let bytes): return .output(bytes)
            case .exited(let status): return .exited(TerminalExit(code: status.code, signal: status.signal))
            case .failed(let error): return .failed(error.message)
            case .started: continue
            }
        }
        return nil
    }

    func send(_ bytes: [UInt8]) async throws {
        _ = try await session.send(bytes)
    }

    func resize(rows: UInt16, cols: UInt16) async throws {
        try await session.resize(TerminalSize(rows: rows, cols: cols))
    }

    func hangUp() async {
        try? await session.signal(1)
    }

    func close() {
        session.close()
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
