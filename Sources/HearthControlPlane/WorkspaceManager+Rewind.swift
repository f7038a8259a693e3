import Foundation
public import HearthCore
import HearthRuntime
import Logging

/// A rollback of a workspace that may be running (an agent session's rewind): stop, roll back,
/// start again. `rollback` itself asks for a stopped workspace, because a rollback under a running
/// sandbox would change files beneath its processes; here the caller asked for exactly that.
extension WorkspaceManager {
    /// Refused before anything stops when the workspace's runtime cannot replace its layer.
    func checkRollbackPossible(_ ref: String) throws {
        let record = try record(ref)
        _ = try durableVolumes()
        guard try registry.existing(record.runtime).replacesChangedLayer else {
            throw HearthError(.conflict, "workspaces of the \(record.runtime.rawValue) runtime cannot be rolled back yet")
        }
    }

    /// Stops the workspace if it runs or is paused, rolls it back to `generation`, and starts it
    /// again if it was running or paused. A rollback that fails starts it again too (its files are
    /// as they were), and the rollback's error is what the caller gets.
    func rewind(_ ref: String, to generation: UInt64) async throws -> WorkspaceCommit {
        try checkRollbackPossible(ref)
        let record = try record(ref)
        let wasLive = [.running, .paused].contains(record.state)
        if wasLive { _ = try await perform(.stop(record.id)) }
        let commit: WorkspaceCommit
        do {
            commit = try await rollback(record.id, to: generation)
        } catch {
            if wasLive { _ = try? await perform(.start(record.id)) }
            throw error
        }
        if wasLive { _ = try await perform(.start(record.id)) }
        return commit
    }
}
