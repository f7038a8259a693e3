public import HearthAPI
public import NIOCore
import NIOHTTP1

extension HearthClient {
    /// Commits the workspace's state now; returns the generation that holds it.
    public func sync(_ ws: String) async throws -> API.SyncBody {
        try await json(.POST, "/v1/workspaces/\(escape(ws))/sync")
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
    public func restoreFile(_ ws: String, generation: UInt64, path: String) async throws -> Int {
        let bytes = try await generationContent(ws, generation: generation, path: path)
        let length = bytes.readableBytes
        try await upload(ws, path: path, length: Int64(length), body: AsyncStream { continuation in
            continuation.yield(bytes)
            continuation.finish()
        })
        return length
    }
}
