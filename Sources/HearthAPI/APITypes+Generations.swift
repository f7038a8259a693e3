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

    /// `PATCH /v1/workspaces/{ws}`: the settings to change; absent ones stay as they are.
    public struct WorkspaceSettingsBody: Codable, Sendable, Equatable {
        /// 300 to 604800 seconds, or 0 for never.
        public var idle_timeout_s: Int?
        /// 10 to 86400 seconds, or 0 for commits only on pause, stop and sync.
        public var commit_interval_s: Int?
        public init(idle_timeout_s: Int? = nil, commit_interval_s: Int? = nil) {
            self.idle_timeout_s = idle_timeout_s
            self.commit_interval_s = commit_interval_s
        }
    }

    /// `POST /v1/workspaces/{ws}/rollback`: the generation to put the stopped workspace back to.
    /// Answered with a `SyncBody`: the new generation that holds the rolled-back state.
    public struct RollbackBody: Codable, Sendable, Equatable {
        public var generation: UInt64
        public init(generation: UInt64) { self.generation = generation }
    }

    /// `POST /v1/workspaces/{ws}/fork`: a new workspace whose state starts as `generation` of
    /// this one (absent: a generation committed now). Answered like a create, with 201.
    public struct ForkBody: Codable, Sendable, Equatable {
        public var generation: UInt64?
        public var name: String?
        public init(generation: UInt64? = nil, name: String? = nil) {
            self.generation = generation
            self.name = name
        }
    }

    /// `POST /v1/workspaces/{ws}/generations/{n}/restore`: the file to put back, and what was written.
    public struct RestoreFileBody: Codable, Sendable, Equatable {
        public var path: String
        public init(path: String) { self.path = path }
    }
    public struct RestoredFileBody: Codable, Sendable, Equatable {
        public var path: String
        public var generation: UInt64
        public var bytes: UInt64
        public var mode: UInt32
        public init(path: String, generation: UInt64, bytes: UInt64, mode: UInt32) {
            self.path = path
            self.generation = generation
            self.bytes = bytes
            self.mode = mode
        }
    }

    /// One generation in `GET /v1/workspaces/{ws}/generations`.
    public struct GenerationBody: Codable, Sendable, Equatable {
        public var generation: UInt64
        public var created_at: Date
        /// `interval`, `sync`, `guest` (`hearth-sync` inside), `pause`, `stop` or `rollback`;
        /// absent for generations no commit made.
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

    /// `GET /v1/workspaces/{ws}/generations/{n}/files?path=P`: a directory as generation `n` holds it.
    public struct GenerationFilesBody: Codable, Sendable, Equatable {
        public struct Entry: Codable, Sendable, Equatable {
            public var name: String
            /// `file`, `directory`, `symlink`, or `whiteout` (a file of the image this workspace deleted).
            public var kind: String
            public var mode: UInt32
            public var size: UInt64
            public var modified_at: Date
            public var target: String?
        }
        public var generation: UInt64
        public var path: String
        public var entries: [Entry]
        /// More entries than one answer lists.
        public var truncated: Bool

        public init(_ listing: GenerationListing, path: String) {
            generation = listing.generation
            self.path = path
            truncated = listing.truncated
            entries = listing.entries.map {
                Entry(name: $0.name, kind: $0.kind.rawValue, mode: $0.mode, size: $0.size, modified_at: $0.modifiedAt, target: $0.symlinkTarget)
            }
        }
    }

    /// `GET /v1/workspaces/{ws}/generations/{a}/diff?to=B`.
    public struct GenerationDiffBody: Codable, Sendable, Equatable {
        public struct Change: Codable, Sendable, Equatable {
            /// `added`, `removed` or `modified`; a directory's path ends in `/`.
            public var kind: String
            public var path: String
        }
        public var from: UInt64
        public var to: UInt64
        public var changes: [Change]
        public var truncated: Bool

        public init(from: UInt64, to: UInt64, changes: [GenerationChange], truncated: Bool) {
            self.from = from
            self.to = to
            self.changes = changes.map { Change(kind: $0.kind.rawValue, path: $0.path) }
            self.truncated = truncated
        }
    }
}
