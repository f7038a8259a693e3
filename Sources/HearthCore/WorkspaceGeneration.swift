public import Foundation

/// Why a workspace's state was committed to the store (issue 16).
public enum CommitTrigger: String, Sendable, Codable, CaseIterable {
    /// The periodic commit of a running workspace.
    case interval
    /// `POST /v1/workspaces/{ws}/sync` (`hearth sync`): a durability barrier.
    case sync
    /// `hearth-sync` inside the workspace: the same barrier, asked for by the guest.
    case guest
    /// The state a rollback put back: the generation it rolled back to, as the new head.
    case rollback
    /// The state a fork started from, as its first generation.
    case fork
    /// A step of an agent session that changed files (its rewind and fork point).
    case agent
    case pause
    case stop
}

/// One generation of a workspace's state in the store, as the API shows it.
public struct WorkspaceGeneration: Sendable, Equatable, Codable {
    public var number: UInt64
    public var createdAt: Date
    /// Nil for generations that no workspace commit made (a rollback, a fork).
    public var trigger: CommitTrigger?
    public var files: Int
    public var bytes: UInt64
    public var bytesAdded: UInt64

    public init(number: UInt64, createdAt: Date, trigger: CommitTrigger?, files: Int, bytes: UInt64, bytesAdded: UInt64) {
        self.number = number
        self.createdAt = createdAt
        self.trigger = trigger
        self.files = files
        self.bytes = bytes
        self.bytesAdded = bytesAdded
    }
}

/// What one commit did: the generation that now holds the workspace's state, and whether this
/// commit published it (false when nothing had changed since the head).
public struct WorkspaceCommit: Sendable, Equatable {
    public var generation: UInt64
    public var published: Bool
    public var filesRead: Int
    public var bytesAdded: UInt64
    public var seconds: Double

    public init(generation: UInt64, published: Bool, filesRead: Int, bytesAdded: UInt64, seconds: Double) {
        self.generation = generation
        self.published = published
        self.filesRead = filesRead
        self.bytesAdded = bytesAdded
        self.seconds = seconds
    }
}

/// One entry of a directory as a generation holds it.
public struct GenerationEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case file, directory, symlink, whiteout }
    public var name: String
    public var kind: Kind
    public var mode: UInt32
    public var size: UInt64
    public var modifiedAt: Date
    public var symlinkTarget: String?

    public init(name: String, kind: Kind, mode: UInt32, size: UInt64, modifiedAt: Date, symlinkTarget: String?) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.size = size
        self.modifiedAt = modifiedAt
        self.symlinkTarget = symlinkTarget
    }
}

/// A directory's entries at a generation; `truncated` when there were more than were listed.
public struct GenerationListing: Sendable, Equatable {
    public var generation: UInt64
    public var entries: [GenerationEntry]
    public var truncated: Bool

    public init(generation: UInt64, entries: [GenerationEntry], truncated: Bool) {
        self.generation = generation
        self.entries = entries
        self.truncated = truncated
    }
}

/// What changed in one path between two generations.
public struct GenerationChange: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case added, removed, modified }
    public var kind: Kind
    public var path: String

    public init(kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }
}
