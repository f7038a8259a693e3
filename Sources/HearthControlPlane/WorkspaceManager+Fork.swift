import Foundation
public import HearthCore
import HearthRuntime
import Logging

/// Forks (issue 16): a new workspace whose whole state starts as a generation of another.
extension WorkspaceManager {
    /// Kept in a fork's row until its sandbox boots (the `created` transition clears it): a server
    /// that stops meanwhile finds it at reconciliation and fails the workspace, whose layer may be
    /// partly restored, rather than offering it as a fresh one.
    static let forkInterrupted = "the server stopped while this workspace was being forked; delete it and fork again"

    /// A new workspace in the source's tenant, with its image, runtime and limits, whose state is
    /// generation `generation` of the source (when nil, a generation committed now: a sync of the
    /// source first), started. The new workspace has its own key and volume, and its first
    /// generation (trigger `fork`) is the state it started from. A fork that fails before its
    /// sandbox boots leaves nothing behind; one whose boot fails is failed, as a create's is.
    func fork(_ ref: String, generation: UInt64?, name: String?) async throws -> Workspace {
        let source = try record(ref)
        let volumes = try durableVolumes()
        // Not one being deleted: its key may be shredded already, and a fork would bring its data back.
        guard [.running, .paused, .stopped, .failed].contains(source.state) else {
            throw HearthError(.conflict, "the workspace is \(source.state.rawValue): it cannot be forked now")
        }
        try Self.checkName(name)
        let runtime = try registry.existing(source.runtime)
        guard runtime.replacesChangedLayer else {
            throw HearthError(.conflict, "workspaces of the \(source.runtime.rawValue) runtime cannot be forked yet")
        }
        let from: UInt64
        if let generation { from = generation } else { from = try await sync(source.id).generation }
        // Checked with no suspension before the insert, as a create's is.
        try checkQuota(tenantId: source.tenantId, adding: source.limits)
        let id = Workspace.newID()
        let now = Date()
        let record = WorkspaceRecord(id: id, tenantId: source.tenantId, name: name ?? Self.defaultName(for: id), runtime: source.runtime,
                                     image: source.image, imageRootfs: source.imageRootfs, state: .creating, cpus: source.cpus,
                                     memoryMiB: source.memoryMiB, diskMiB: source.diskMiB, pooled: false,
                                     failure: Self.forkInterrupted, createdAt: now, updatedAt: now)
        try store.insert(record)
        logger.info("workspace forking", metadata: ["workspace.id": "\(id)", "fork.source": "\(source.id)", "fork.generation": "\(from)"])
        var booting = false
        do {
            return try await withBusy(id, "forking") {
                try await createVolume(id: id, tenantId: source.tenantId)
                // The source is held meanwhile: a delete of it waits for the restore, or is refused,
                // rather than shredding a key that this restore then outlives.
                try await withBusy(source.id, "forking") {
                    try await runtime.replaceChangedLayer(spec(record)) { directory in
                        try await volumes.restore(workspace: source.id, tenant: source.tenantId, generation: from, into: directory)
                    }
                }
                // The state it started from, as its own first generation; a failure is logged and
                // the next commit carries it.
                _ = try? await commit(record, trigger: .fork)
                booting = true
                return try await boot(record, event: .created)
            }
        } catch {
            if !booting {
                do {
                    try await delete(id)
                } catch let cleanup {
                    // Left `deleting` or `failed`: the reconciler finishes the shred at the next start.
                    logger.error("failed fork not cleaned up", metadata: ["workspace.id": "\(id)", "error": "\(cleanup)"])
                }
            }
            throw error
        }
    }
}
