import Foundation
import HearthControlPlane
import HearthCore
import HearthSessions

/// How a terminal reaches its shell again after its channel went away: wait until the workspace
/// runs (a pause ends with `running`; an agent reconnect finds it running already), then re-bind
/// the agent's detachable terminal by its key.
enum TerminalReattach {
    /// 128 random bits: the key names the shell in the agent, and nothing else may guess it.
    static func newSessionKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return "term-" + (0..<2).map { _ in String(generator.next() as UInt64, radix: 16) }.joined(separator: "-")
    }

    static func closure(manager: WorkspaceManager, workspaceID: String, session: String) -> @Sendable () async throws -> any TerminalBackend {
        {
            try await waitUntilRunning(manager, workspaceID)
            // The terminal was opened in this workspace by a caller allowed to; the id is the grant.
            let workspace = try await manager.resolveWorkspace(granted: workspaceID)
            return ExecSessionTerminalBackend(try await manager.agent(for: workspace, notingUse: false).attachTerminal(session: session))
        }
    }

    static let ended: Set<WorkspaceState> = [.stopping, .stopped, .deleting, .deleted, .failed]

    static func waitUntilRunning(_ manager: WorkspaceManager, _ workspaceID: String) async throws {
        let changes = await manager.store.changes.watch(workspaceID)
        if case .workspace(let workspace) = try await manager.perform(.get(workspaceID)) {
            if workspace.state == .running { return }
            if ended.contains(workspace.state) { throw HearthError(.conflict, "the workspace is \(workspace.state.rawValue)") }
        }
        for await change in changes {
            if change.state == .running { return }
            if ended.contains(change.state) { throw HearthError(.conflict, "the workspace is \(change.state.rawValue)") }
        }
        throw CancellationError()
    }
}
