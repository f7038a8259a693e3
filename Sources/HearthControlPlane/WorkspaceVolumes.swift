public import HearthCore

/// The durable side of a workspace's life (issue 16): its key and its volume in the server's store.
/// The composition root (`HearthHost`) supplies one; this target and the HTTP layer never see the
/// store, its files or the KEK. Errors thrown are `HearthError`s with a client-safe message.
/// Callers run at most one `commit` or `delete` of a workspace at a time (`WorkspaceManager` does,
/// under the workspace's busy marker), so no commit publishes into a volume being shredded.
public protocol WorkspaceVolumes: Sendable {
    /// Makes the workspace's key under its tenant's and creates its (empty) volume. Idempotent.
    func create(workspace: String, tenant: String) async throws
    /// Crypto-shreds the workspace: its key record first, then its volume's objects. Idempotent.
    func delete(workspace: String) async throws
    /// Commits `layer` (a host directory the runtime chose, holding everything the workspace
    /// changed) as the volume's next generation, unless nothing changed since the head.
    /// `maxBytes` bounds the file contents one commit reads (at logical size).
    func commit(workspace: String, tenant: String, layer: String, trigger: CommitTrigger, maxBytes: UInt64) async throws -> WorkspaceCommit
    /// The volume's generations, oldest first; pruned ones are left out.
    func generations(workspace: String, tenant: String) async throws -> [WorkspaceGeneration]
    /// Directory `path` (inside the committed layer) at `generation`, without restoring anything.
    func list(workspace: String, tenant: String, generation: UInt64, path: String, limit: Int) async throws -> GenerationListing
    /// Regular file `path` at `generation`; larger than `limit` bytes is refused unread.
    func read(workspace: String, tenant: String, generation: UInt64, path: String, limit: Int) async throws -> [UInt8]
    /// Restores generation `generation` whole into `directory`, which must not exist yet (a
    /// rollback's new layer). `notFound` when there is no such generation.
    func restore(workspace: String, tenant: String, generation: UInt64, into directory: String) async throws
    /// What changed from generation `from` to `to`, at most `limit` paths.
    func diff(workspace: String, tenant: String, from: UInt64, to: UInt64, limit: Int) async throws -> (changes: [GenerationChange], truncated: Bool)
}
