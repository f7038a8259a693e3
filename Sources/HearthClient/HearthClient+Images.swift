public import HearthAPI
import NIOHTTP1

extension HearthClient {
    /// The base image's build: `ready`, `building` (step and elapsed time), `idle` or `failed`.
    public func baseImageStatus() async throws -> API.BaseImageStatus { try await json(.GET, "/v1/images/base") }
}
