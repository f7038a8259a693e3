public import HearthAPI
public import NIOCore
import NIOHTTP1

extension HearthClient {
    /// Commits the workspace's state now; returns the generation that holds it.
    public func sync(_ ws: String) async throws -> API.SyncBody {
        try await json(.POST, "/v1/workspaces/\(escape(ws))/sync")
    }

    /// Puts a stopped workspace back as `generation` holds it; answers with the new generation.
    public func rollback(_ ws: String, to generation: UInt64) async throws -> API.SyncBody {
        try await json(.POST, "/v1/workspaces/\(escape(ws))/rollback", body: API.RollbackBody(generation: generation))
    }

    /// A new workspace whose state starts as `generation` of `ws` (nil: one committed now), started.
    public func fork(_ ws: String, generation: UInt64? = nil, name: String? = nil) async throws -> API.WorkspaceBody {
        try await json(.POST, "/v1/workspaces/\(escape(ws))/fork", body: API.ForkBody(generation: generation, name: name))
    }

    /// The workspace's generations in the store, oldest first.
    public func generations(_ ws: String) async throws -> [API.GenerationBody] {
        let list: API.GenerationList = try await json(.GET, "/v1/workspaces/\(escape(ws))/generations")
        return list.generations
    }

    /// A file as generation `generation` holds it (at most 16 MiB, which the server enforces).
    public func generationContent(_ ws: String, generation: UInt64, path: String) async throws -> ByteBuffer {
        try await send(.GET, "/v1/workspaces/\(escape(ws))/generations/\(generation)/content?path=\(escape(path))")
    }

    /// Puts one file back as generation `generation` holds it: read from the store, then written
    /// into the running workspace through the files API (so the same path rules apply).
    /// The file's mode comes with it (an executable stays executable).
    public func restoreFile(_ ws: String, generation: UInt64, path: String) async throws -> Int {
        let restored: API.RestoredFileBody = try await json(.POST, "/v1/workspaces/\(escape(ws))/generations/\(generation)/restore",
                                                            body: API.RestoreFileBody(path: path))
        return Int(clamping: restored.bytes)
    }
}
