import Foundation
public import HearthCore
import HearthRuntime
import Logging

/// Forks (issue 16): a new workspace whose whole state starts as a generation of another.
extension WorkspaceManager {
    /// A new workspace in the source's tenant, with its image, runtime and limits, whose state is
    /// generation `generation` of the source (when nil, a generation committed now: a sync of the
    /// source first), started. The new workspace has its own key and volume, and its first
    /// generation (trigger `fork`) is the state it started from. A fork that fails before its
    /// sandbox boots leaves nothing behind; one whose boot fails is failed, as a create's is.
    func fork(_ ref: String, generation: UInt64?, name: String?) async throws -> Workspace {
        let source = try record(ref)
        let volumes = try durableVolumes()
        if let name, !Workspace.isValidName(name) {
            throw HearthError(.invalidArgument, "a name is 1-63 lowercase letters, digits and dashes, not starting with ws_")
        }
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
                                     memoryMiB: source.memoryMiB, diskMiB: source.diskMiB, pooled: false, failure: nil, createdAt: now, updatedAt: now)
        try store.insert(record)
        logger.info("workspace forking", metadata: ["workspace.id": "\(id)", "fork.source": "\(source.id)", "fork.generation": "\(from)"])
        var booting = false
        do {
            return try await withBusy(id, "forking") {
                try await createVolume(id: id, tenantId: source.tenantId)
                try await runtime.replaceChangedLayer(spec(record)) { directory in
                    try await volumes.restore(workspace: source.id, tenant: source.tenantId, generation: from, into: directory)
                }
                // The state it started from, as its own first generation; a failure is logged and
                // the next commit carries it.
                _ = try? await commit(record, trigger: .fork)
                booting = true
                return try await boot(record, event: .created)
            }
        } catch {
            if !booting { try? await delete(id) }
            throw error
        }
    }
}
