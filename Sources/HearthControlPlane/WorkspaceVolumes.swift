public import HearthCore

/// The durable side of a workspace's life (issue 16): its key and its volume in the server's store.
/// The composition root (`HearthHost`) supplies one; this target and the HTTP layer never see the
/// store, its files or the KEK. Errors thrown are `HearthError`s with a client-safe message.
public protocol WorkspaceVolumes: Sendable {
    /// Makes the workspace's key under its tenant's and creates its (empty) volume. Idempotent.
    func create(workspace: String, tenant: String) async throws
    /// Crypto-shreds the workspace: its key record first, then its volume's objects. Idempotent.
    func delete(workspace: String) async throws
    /// Commits `layer` (a host directory the runtime chose, holding everything the workspace
    /// changed) as the volume's next generation, unless nothing changed since the head. Commits of
    /// one workspace run one at a time.
    func commit(workspace: String, tenant: String, layer: String, trigger: CommitTrigger) async throws -> WorkspaceCommit
    /// The volume's generations, oldest first; pruned ones are left out.
    func generations(workspace: String, tenant: String) async throws -> [WorkspaceGeneration]
}
