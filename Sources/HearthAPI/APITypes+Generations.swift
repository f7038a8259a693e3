public import Foundation
public import HearthCore

extension API {
    /// `POST /v1/workspaces/{ws}/sync`: the generation that now holds everything the workspace
    /// wrote before the call. `published` is false when nothing had changed since that generation.
    public struct SyncBody: Codable, Sendable, Equatable {
        public var generation: UInt64
        public var published: Bool
        public var files_read: Int
        public var bytes_added: UInt64
        public var seconds: Double

        public init(_ commit: WorkspaceCommit) {
            generation = commit.generation
            published = commit.published
            files_read = commit.filesRead
            bytes_added = commit.bytesAdded
            seconds = commit.seconds
        }
    }

    /// One generation in `GET /v1/workspaces/{ws}/generations`.
    public struct GenerationBody: Codable, Sendable, Equatable {
        public var generation: UInt64
        public var created_at: Date
        /// `interval`, `sync`, `pause` or `stop`; absent for generations no commit made.
        public var trigger: String?
        public var files: Int
        public var bytes: UInt64
        public var bytes_added: UInt64

        public init(_ generation: WorkspaceGeneration) {
            self.generation = generation.number
            created_at = generation.createdAt
            trigger = generation.trigger?.rawValue
            files = generation.files
            bytes = generation.bytes
            bytes_added = generation.bytesAdded
        }
    }

    public struct GenerationList: Codable, Sendable, Equatable {
        /// Oldest first.
        public var generations: [GenerationBody]
        public init(generations: [GenerationBody]) { self.generations = generations }
    }
}
