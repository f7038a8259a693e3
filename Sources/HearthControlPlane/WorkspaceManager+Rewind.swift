import Foundation
public import HearthCore
import HearthRuntime
import Logging

/// A rollback of a workspace that may be running (an agent session's rewind): stop, roll back,
/// start again. `rollback` itself asks for a stopped workspace, because a rollback under a running
/// sandbox would change files beneath its processes; here the caller asked for exactly that.
extension WorkspaceManager {
    /// Refused before anything stops: a runtime that cannot replace its layer, and a generation
    /// that is not (or no longer) in the workspace's history.
    func checkRollbackPossible(_ ref: String, to generation: UInt64) async throws {
        let record = try record(ref)
        guard try registry.existing(record.runtime).replacesChangedLayer else {
            throw HearthError(.conflict, "workspaces of the \(record.runtime.rawValue) runtime cannot be rolled back yet")
        }
        guard try await generations(record.id).contains(where: { $0.number == generation }) else {
            throw HearthError(.conflict, "generation \(generation) of the workspace is no longer in the store")
        }
    }

    /// What a rewind did once the layer was swapped: the rollback's commit (nil when it failed, and
    /// the next commit carries the state), and why the workspace did not start again, if it did not.
    struct Rewound: Sendable {
        var commit: WorkspaceCommit?
        var startFailure: HearthError?
    }

    /// Stops the workspace if it runs or is paused, rolls it back to `generation`, and starts it
    /// again if it was running or paused. Throws only when the files were not changed (a rollback
    /// that fails before its swap starts the workspace again too); once they were, it returns, so
    /// the caller can bring the rest of its state to the same point.
    func rewind(_ ref: String, to generation: UInt64) async throws -> Rewound {
        let record = try record(ref)
        let wasLive = [.running, .paused].contains(record.state)
        if wasLive { _ = try await perform(.stop(record.id)) }
        let commit: WorkspaceCommit?
        do {
            commit = try await rollbackLayer(record.id, to: generation)
        } catch {
            if wasLive { _ = try? await perform(.start(record.id)) }
            throw error
        }
        var rewound = Rewound(commit: commit)
        if wasLive {
            do {
                _ = try await perform(.start(record.id))
            } catch {
                rewound.startFailure = (error as? HearthError) ?? HearthError(.internal, "the workspace did not start", detail: "\(error)")
            }
        }
        return rewound
    }

    /// The longest an agent step waits for its workspace's spacing (ten times a very slow commit).
    static let maxAgentStepSpacing = Duration.seconds(60)

    /// The commit of an agent step (`AgentCheckpointer`): nil when this server or this runtime
    /// keeps no layers (nothing is flushed for nothing). A model chooses how often its steps may
    /// change files, so these commits are bounded as the guest's own `hearth-sync` is, and share
    /// its budget: the same spacing per workspace (waited out here, at most 60 s, so a turn that
    /// changes files on every step slows its own workspace), and the same slots (two in the server,
    /// one per tenant).
    func agentStepSync(_ id: String, waitForSpacing: Bool = true) async throws -> WorkspaceCommit? {
        let record = try record(id)
        guard configuration.volumes != nil, try registry.existing(record.runtime).replacesChangedLayer else { return nil }
        return try await spacedGuestCommit(id, waitAtMost: waitForSpacing ? Self.maxAgentStepSpacing : .zero) {
            // As `guestSync` does: every marker waited out before a slot is taken, so no slot waits
            // on this workspace's own interval commit or claim.
            try await waitOut(id) { _ in true }
            try await acquireGuestCommitSlot(tenant: record.tenantId)
            defer { releaseGuestCommitSlot(tenant: record.tenantId) }
            return try await sync(id, trigger: .agent)
        }
    }
}
