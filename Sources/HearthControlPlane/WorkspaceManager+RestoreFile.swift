public import HearthCore
import HearthRuntime

/// One file put back as a generation holds it (issue 16), with its mode: read from the store,
/// written through the workspace's agent like any upload (so the agent's path rules apply, and
/// the write is atomic). For the CLI's `restore-file` and the IDE's History section alike.
extension WorkspaceManager {
    /// Puts back at once, server-wide: each holds up to 16 MiB until its guest has taken it.
    static let restoreFileConcurrency = 8
    /// How long a guest has to take the file.
    static let restoreFileDeadline = Duration.seconds(60)

    func restoreFile(_ ref: String, generation: UInt64, path: String) async throws -> RestoredFile {
        guard restoreFilesRunning < Self.restoreFileConcurrency else {
            throw HearthError(.rateLimited, "too many files are being put back; try again shortly")
        }
        restoreFilesRunning += 1
        defer { restoreFilesRunning -= 1 }
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
        defer { upload.close() }
        // A guest that never takes the bytes (grants no credit) is given up on: closing the upload
        // ends the waiting send, so nothing here outlives the deadline.
        let written: UInt64? = try await withThrowingTaskGroup(of: UInt64?.self) { group in
            group.addTask {
                _ = try await upload.send(bytes)
                return try await upload.finish()
            }
            group.addTask {
                try await Task.sleep(for: Self.restoreFileDeadline)
                upload.close()
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard let written else { throw HearthError(.timeout, "the workspace did not take the file in time") }
        return RestoredFile(bytes: written, mode: mode)
    }
}

/// What `restoreFile` wrote.
public struct RestoredFile: Sendable, Equatable {
    public var bytes: UInt64
    public var mode: UInt32
}
