import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import Hummingbird
import NIOCore

/// `POST /v1/workspaces/{ws}/exec`: output streamed as it is produced, under backpressure: the
/// agent sends only what the host granted, and the host grants only what the client took.
struct ExecRoutes {
    let manager: WorkspaceManager
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        group.post("workspaces/:ws/exec") { request, context in
            let workspace = try await context.workspace(manager)
            let body = try await request.decode(as: API.ExecBody.self, context: context)
            guard body.pty == nil else { throw HearthError(.invalidArgument, "a PTY needs the WebSocket endpoint /exec/ws") }
            let stream = try await auditor.around(context, "exec", target: workspace.id, detail: Self.commandLine(body.argv)) {
                try await manager.agent(for: workspace).exec(try Self.request(body))
            }
            do {
                if let stdin = body.stdin { try await stream.send(Array(stdin.utf8)) }
                try await stream.sendEOF()
            } catch {
                stream.close()
                throw error
            }
            return Response(status: .ok, headers: [.contentType: ExecStream.contentType], body: ResponseBody { writer in
                defer { stream.close() }
                try await Self.relay(stream) { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
                try await writer.finish(nil)
            })
        }
    }

    /// The command as a shell would show it, for the audit log.
    static func commandLine(_ argv: [String]) -> String {
        argv.map { arg in
            arg.isEmpty || arg.contains(where: { " \"'\\$`\t\n;&|<>()*?".contains($0) })
                ? "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'" : arg
        }.joined(separator: " ")
    }

    /// The longest `timeout_ms` accepted: a week. Larger numbers are refused here, before the
    /// agent (PID 1 of a microVM) ever sees them.
    static let maxTimeoutMs: UInt64 = 7 * 24 * 3600 * 1000

    static func request(_ body: API.ExecBody) throws -> ExecCommand {
        guard let first = body.argv.first, !first.isEmpty else { throw HearthError(.invalidArgument, "argv must name a command") }
        if let timeout = body.timeout_ms, !(1...maxTimeoutMs).contains(timeout) {
            throw HearthError(.invalidArgument, "timeout_ms must be between 1 and \(maxTimeoutMs)")
        }
        var pty: TerminalSize?
        if let size = body.pty {
            guard let valid = ExecSocket.ptySize(size) else { throw HearthError(.invalidArgument, "pty rows and cols must be between 1 and 1000") }
            pty = valid
        }
        return ExecCommand(argv: body.argv, env: body.env ?? [:], cwd: body.cwd, user: body.user, timeoutMs: body.timeout_ms, pty: pty)
    }

    /// Turns the process's events into exec-stream frames until it exits.
    static func relay(_ session: ExecSession, _ write: ([UInt8]) async throws -> Void) async throws {
        do {
            for try await event in session {
                switch event {
                case .stdout(let bytes): try await write(ExecStream.frame(.stdout, bytes))
                case .stderr(let bytes): try await write(ExecStream.frame(.stderr, bytes))
                case .started(let pid): try await write(ExecStream.json(.started, ExecStream.Started(pid: pid)))
                case .exited(let status):
                    try await write(ExecStream.json(.exit, ExecStream.Exit(code: status.code, signal: status.signal, timed_out: status.timedOut)))
                    return
                case .failed(let error):
                    try await write(ExecStream.json(.error, API.ErrorBody(code: error.code.rawValue, message: error.message)))
                    return
                }
            }
        } catch let error as CancellationError {
            throw error
        } catch {
            let mapped = HearthError.from(error)
            try? await write(ExecStream.json(.error, API.ErrorBody(code: mapped.code.rawValue, message: mapped.message)))
        }
    }
}
