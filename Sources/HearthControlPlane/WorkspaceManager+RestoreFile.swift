public import HearthCore
import HearthRuntime

/// One file put back as a generation holds it (issue 16), with its mode: read from the store,
/// written through the workspace's agent like any upload (so the agent's path rules apply, and
/// the write is atomic). For the CLI's `restore-file` and the IDE's History section alike.
extension WorkspaceManager {
    func restoreFile(_ ref: String, generation: UInt64, path: String) async throws -> RestoredFile {
        let record = try record(ref)
        let volumes = try durableVolumes()
        guard record.state == .running else {
            throw HearthError(.conflict, "the workspace is \(record.state.rawValue): start it to put a file back")
        }
        let names = path.split(separator: "/", omittingEmptySubsequences: true)
        guard let name = names.last.map(String.init) else { throw HearthError(.invalidArgument, "name a file to put back") }
        let parent = "/" + names.dropLast().joined(separator: "/")
        let listing = try await volumes.list(workspace: record.id, tenant: record.tenantId, generation: generation, path: parent,
                                             limit: Self.listedEntries)
        guard let entry = listing.entries.first(where: { $0.name == name }) else {
            throw HearthError(.notFound, listing.truncated
                ? "\(path) is in a directory too large to look up at generation \(generation)"
                : "generation \(generation) has no \(path)")
        }
        guard entry.kind == .file else { throw HearthError(.invalidArgument, "only a regular file can be put back; \(path) is a \(entry.kind.rawValue)") }
        let bytes = try await volumes.read(workspace: record.id, tenant: record.tenantId, generation: generation, path: path,
                                           limit: Self.readableBytes)
        let mode = entry.mode & 0o7777
        let target = try registry.existing(record.runtime).agentPath(ofLayerPath: names.joined(separator: "/"), spec(record))
        let agent = try await agent(for: ResolvedWorkspace(id: record.id, record: record))
        let upload = try await agent.write(target, mode: mode)
        do {
            _ = try await upload.send(bytes)
            let written = try await upload.finish()
            return RestoredFile(bytes: written, mode: mode)
        } catch {
            upload.close()
            throw error
        }
    }
}

/// What `restoreFile` wrote.
public struct RestoredFile: Sendable, Equatable {
    public var bytes: UInt64
    public var mode: UInt32
}
