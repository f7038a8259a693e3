import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a shipper puts what it reads: a WAL segment becomes one sealed object named by its hash
/// (no pack and no index, so a WAL generation costs two PUTs); a snapshot file is chunked into the
/// commit's packs like any file. Handed in by whoever is publishing, so a shipper never talks to the
/// store itself.
public struct BlobSink: Sendable {
    public var addSegment: @Sendable ([UInt8]) async throws -> BlobID
    public var addFile: @Sendable (String) async throws -> (chunks: [BlobID], sha256: String)
}

/// A database as a generation records it: the base image's chunks and the description that
/// includes the WAL segments to replay on top.
public struct CapturedDatabase: Sendable {
    public var chunks: [BlobID]
    public var database: Generation.Database
    /// False when nothing was shipped and the image is the same as at the last capture.
    public var changed: Bool = true
}

/// Something that can capture SQLite databases found in the tree (the watcher's shippers). A
/// one-off commit has none and takes a backup-API image instead.
public protocol DatabaseSource: Sendable {
    func capture(relativePath: String, absolutePath: String, sink: BlobSink) async throws -> CapturedDatabase
}

/// Ships one WAL-mode database, Litestream style. It holds a read transaction open at all times, so
/// no other connection can checkpoint past what it has read or restart the log under it; it reads
/// new frames straight from the `-wal` file, keeps only whole transactions whose salts and checksums
/// are right, and owns checkpoints: it runs them itself, under the write lock, once it has shipped
/// every frame. A log restarted any other way (its salt not the next one) forces a new base image.
actor DatabaseShipper {
    struct Base {
        var chunks: [BlobID], pageSize: Int, pageCount: Int, sha256: String
        var bytes: Int { pageSize * pageCount }
    }

    let path: String
    let relativePath: String
    private let reader: SQLiteConnection
    private let locker: SQLiteConnection
    private var cursor: SQLiteWAL.Cursor?
    private var base: Base?
    private var segments: [BlobID] = []
    private var segmentBytes = 0
    private var frames = 0
    private var pages = 0
    /// The log's size and mtime when it was last read to its end.
    private var shippedStamp: LogStamp?

    struct LogStamp: Equatable {
        var size: Int, seconds: Int, nanoseconds: Int
        init(_ info: stat) { (size, seconds, nanoseconds) = (Int(info.st_size), info.st_mtim.tv_sec, info.st_mtim.tv_nsec) }
    }
    /// Checkpoint once this much log has been shipped, as SQLite's own default of 1000 pages would.
    let checkpointBytes: Int

    init(path: String, relativePath: String, checkpointBytes: Int = 4 << 20) throws {
        self.path = path
        self.relativePath = relativePath
        self.reader = try SQLiteConnection(path: path)
        self.locker = try SQLiteConnection(path: path)
        self.checkpointBytes = checkpointBytes
    }

    var logPath: String { path + "-wal" }

    /// Ships what is new and returns the database as of the last whole transaction shipped;
    /// `changed` says whether anything was shipped or a new image taken.
    func capture(sink: BlobSink) async throws -> CapturedDatabase {
        let before = (segments.count, base?.sha256)
        // A chain of segments longer than the image it sits on costs more to restore than a new
        // image, which dedupes against the old one chunk by chunk.
        if let base, segmentBytes > max(base.bytes, 16 << 20) { self.base = nil }
        if base != nil, try await !ship(sink: sink) { base = nil }
        if base != nil, let cursor, cursor.offset >= checkpointBytes { try await checkpoint(sink: sink) }
        if base == nil { try await takeBase(sink: sink) }
        guard let base else { throw StoreError(.io, "no base image of \(relativePath)") }
        let database = Generation.Database(path: relativePath, pageSize: base.pageSize, pageCount: base.pageCount, sha256: base.sha256,
                                           wal: segments.isEmpty ? nil : segments, walFrames: segments.isEmpty ? nil : frames,
                                           pages: segments.isEmpty ? nil : pages)
        return CapturedDatabase(chunks: base.chunks, database: database, changed: before != (segments.count, base.sha256))
    }

    /// Whether the log was written since the last ship, judged by its size and mtime alone (cheap
    /// enough to poll). A restarted log keeps its old size, so size alone would say yes forever.
    func hasNewLog() -> Bool {
        var info = stat()
        guard stat(logPath, &info) == 0 else { return false }
        return LogStamp(info) != shippedStamp
    }

    /// A new base image: the long read transaction is started under the write lock, where the end
    /// of the log is also noted; then, with writers free again, that snapshot is copied with the
    /// backup API.
    private func takeBase(sink: BlobSink) async throws {
        try appendMarkerFrame()
        try locker.beginWrite()
        do {
            try? reader.end()
            try reader.beginRead()
            let log = try readLog(from: 0)
            if let header = SQLiteWAL.parseHeader(log) {
                cursor = SQLiteWAL.scan(log, after: SQLiteWAL.Cursor(header: header)).end
            } else {
                cursor = nil
            }
            try locker.end()
        } catch {
            try? locker.end()
            throw error
        }
        let temporary = SQLiteConnection.scratchPath("base")
        defer { SQLiteConnection.removeScratch(temporary) }
        let (pageSize, pageCount) = try reader.snapshot(to: temporary)
        let stored = try await sink.addFile(temporary)
        base = Base(chunks: stored.chunks, pageSize: pageSize, pageCount: pageCount, sha256: stored.sha256)
        segments = []
        segmentBytes = 0
        frames = 0
        pages = pageCount
    }

    /// Commits a transaction that changes nothing (user_version set to itself) so the log holds a
    /// frame the checkpointer has not copied. A read transaction started then takes a nonzero read
    /// mark, which, unlike mark 0, stops other processes from checkpointing past it and restarting
    /// the log. Started on a fully checkpointed log, it also makes SQLite restart the log now.
    private func appendMarkerFrame() throws {
        try locker.beginWrite()
        do {
            let version = try locker.integer("PRAGMA user_version")
            try locker.execute("PRAGMA user_version = \(version)")
            try locker.execute("COMMIT")
        } catch {
            try? locker.end()
            throw error
        }
    }

    /// Ships whole transactions past the cursor. Returns false if the log was restarted in a way
    /// that could have lost frames, so the caller takes a new base instead.
    private func ship(sink: BlobSink) async throws -> Bool {
        let head = try readLog(from: 0, count: SQLiteWAL.headerSize)
        guard let header = SQLiteWAL.parseHeader(head) else { return cursor == nil }
        if var current = cursor, current.header.salt1 != header.salt1 || current.header.salt2 != header.salt2 {
            // SQLite restarts the log with salt1 + 1 only after every frame was checkpointed, which
            // the held read transaction allows only once everything here was shipped.
            guard header.salt1 == current.header.salt1 &+ 1 else { return false }
            current = SQLiteWAL.Cursor(header: header)
            cursor = current
        }
        let start = cursor ?? SQLiteWAL.Cursor(header: header)
        // Taken before the read: a write after it changes the stamp, so nothing is missed.
        var info = stat()
        let stamp = stat(logPath, &info) == 0 ? LogStamp(info) : nil
        let log = try readLog(from: start.offset)
        let scan = SQLiteWAL.scan(log, base: start.offset, after: start)
        guard scan.frameCount > 0 else { (cursor, shippedStamp) = (scan.end, stamp); return true }
        let segment = WALSegment(from: start, scan: scan)
        // The cursor moves only once the segment is stored: a failed upload is read again next
        // time, never skipped (a skipped segment would leave a hole in every later generation).
        let id = try await sink.addSegment(segment.encoded())
        (cursor, shippedStamp) = (scan.end, stamp)
        segments.append(id)
        segmentBytes += segment.frames.count
        frames += scan.frameCount
        let last = segment.frames.count - start.frameSize
        pages = Int(SQLiteWAL.be32(segment.frames, last + 4))
        return true
    }

    /// Ships the tail under the write lock, checkpoints with the read transaction released, then
    /// restarts the log with a marker frame and takes the read transaction again on it. Everything
    /// in the old log was shipped first, so the restart loses nothing.
    private func checkpoint(sink: BlobSink) async throws {
        do { try locker.beginWrite() } catch { return }  // a long writer holds the lock: try next time
        do {
            guard try await ship(sink: sink) else { try locker.end(); base = nil; return }
            try reader.end()
            _ = try reader.checkpointPassive()
            try locker.end()
        } catch {
            try? locker.end()
            throw error
        }
        try appendMarkerFrame()
        try reader.beginRead()
    }

    private func readLog(from offset: Int, count: Int? = nil) throws -> [UInt8] {
        let fd = open(logPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return [] }
            throw StoreError(.unreadable, "cannot read the log of \(relativePath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        let length = max(0, min(count ?? Int.max, Int(info.st_size) - offset))
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, length - done, off_t(offset + done)) }
            if n < 0 { if errno == EINTR { continue }; throw StoreError(.unreadable, "cannot read the log of \(relativePath)") }
            if n == 0 { break }
            done += n
        }
        return Array(bytes[0..<done])
    }
}
