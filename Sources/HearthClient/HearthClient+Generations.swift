public import HearthAPI
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
}
