public import Foundation

/// The protocol steps of a commit, in order. Tests inject a crash after each one.
public enum CommitStep: String, Sendable, CaseIterable {
    case packUploaded = "pack-upload"
    case indexWritten = "index"
    case leaseRenewed = "lease-renewal"
    case generationPublished = "generation-publish"
}

public struct CommitProgress: Sendable {
    public var files: Int
    public var bytes: UInt64
}

/// How much one commit may take on. A guest's layer is made by code nobody trusts: without bounds,
/// a million empty files or a sparse 16 TiB file would hold the host's memory or cores.
public struct CommitLimits: Sendable {
    /// Files, directories and links listed.
    public var entries: Int
    /// Bytes of names and link targets held while walking.
    public var nameBytes: Int
    /// File contents, counted at their full (logical) size.
    public var bytes: UInt64
    /// The commit stops with `limitExceeded` after this moment.
    public var deadline: Date?

    public init(entries: Int = .max, nameBytes: Int = .max, bytes: UInt64 = .max, deadline: Date? = nil) {
        self.entries = entries
        self.nameBytes = nameBytes
        self.bytes = bytes
        self.deadline = deadline
    }
}

public struct CommitOptions: Sendable {
    /// Where the stat cache lives. Nil disables it: every file is read again.
    public var cacheDirectory: URL?
    /// How many files are read, chunked and sealed at once.
    public var concurrency: Int
    /// Called after each protocol step; a throw aborts the commit there (tests use it as a kill point).
    public var onStep: (@Sendable (CommitStep) throws -> Void)?
    public var onProgress: (@Sendable (CommitProgress) -> Void)?
    /// Captures the tree's SQLite databases (a watcher's WAL shippers). Without one, each database
    /// is copied with SQLite's backup API inside one read transaction.
    public var databaseSource: (any DatabaseSource)?
    /// Publish nothing when the tree and every database are those of the head; the result then
    /// names the head, which already holds everything. The watcher sets it, so an idle workspace
    /// adds no generations; a one-off commit always publishes, as restic's backup does.
    public var skipIfUnchanged = false
    /// The directory was written by an untrusted guest (a workspace's layer): its SQLite databases
    /// are stored as plain files rather than opened with the host's SQLite. Every commit already
    /// resolves paths beneath the root without following links.
    public var guestTree = false
    /// Recorded in the generation (`Generation.trigger`).
    public var trigger: String?
    public var limits = CommitLimits()

    public init(cacheDirectory: URL? = nil, concurrency: Int = max(2, ProcessInfo.processInfo.activeProcessorCount),
                onStep: (@Sendable (CommitStep) throws -> Void)? = nil, onProgress: (@Sendable (CommitProgress) -> Void)? = nil) {
        self.cacheDirectory = cacheDirectory
        self.concurrency = concurrency
        self.onStep = onStep
        self.onProgress = onProgress
        self.databaseSource = nil
    }
}

public struct CommitResult: Codable, Sendable {
    public var generation: UInt64
    public var files: Int
    public var directories: Int
    public var bytes: UInt64
    public var bytesNew: UInt64
    public var chunksNew: Int
    public var packs: Int
    public var databases: Int
    public var filesRead: Int
    public var seconds: Double
    /// False when nothing had changed and the head was kept (`skipIfUnchanged`).
    public var published = true

    enum CodingKeys: String, CodingKey {
        case generation, files, directories, bytes, packs, databases, seconds, published
        case bytesNew = "bytes_new"
        case chunksNew = "chunks_new"
        case filesRead = "files_read"
    }
}
