import Crypto
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Turns a directory into trees and chunks: reads what changed, reuses the stat cache for the rest,
/// and hands new sealed blobs to the uploader. Runs off the writer actor so files are processed in
/// parallel.
struct TreeCommitter: Sendable {
    let key: DataKey
    let chunker: FastCDC
    let uploader: PackUploader
    let previous: StatCache
    let concurrency: Int
    let counters: Counters
    let limiter: AsyncSemaphore
    let onProgress: (@Sendable (CommitProgress) -> Void)?
    var databaseSource: (any DatabaseSource)? = nil
    var volume: Volume? = nil
    /// The committed directory, opened once; every path in the tree is resolved beneath it.
    var root: Int32 = -1
    /// The tree was written by a guest (a workspace's layer): SQLite databases in it are kept as
    /// plain files, never opened by the host's SQLite, whose parser should not meet hostile pages.
    var guestTree = false
    var limits = CommitLimits()

    final class Counters: Sendable {
        struct Values {
            var files = 0, directories = 0, filesRead = 0, bytes: UInt64 = 0
            var cache: [[UInt8]: StatCache.Entry] = [:]
            var databases: [Generation.Database] = []
            /// Entries listed and file bytes taken so far, against `CommitLimits`.
            var entriesSeen = 0, nameBytesSeen = 0
            var logicalBytes: UInt64 = 0
        }
        let values = Mutex(Values())
    }

    struct FileResult: Sendable {
        var entry: Tree.Entry
        var cacheKey: [UInt8]
        var cacheEntry: StatCache.Entry?
        var database: Generation.Database?
    }

    /// Commits the directory at `path` (relative path `relative` inside the volume); returns its tree
    /// id and whether it is opaque, or nil if it vanished or stopped being a directory meanwhile.
    func commitDirectory(path: [UInt8], relative: [UInt8]) async throws -> (id: BlobID, opaque: Bool)? {
        let display = relative.isEmpty ? "." : String(decoding: relative, as: UTF8.self)
        guard let scanned = try TreeScanner.list(root: root, relative: relative, display: display, limit: limits.entries,
                                                 charge: { bytes in try charge(entries: 1, nameBytes: bytes) }) else { return nil }
        let listing = scanned.entries
        var databases: Set<[UInt8]> = []
        for item in listing where !guestTree && item.kind == .file && item.size >= 512
            && TreeScanner.isWALDatabase(path + [47] + item.name) {
            databases.insert(item.name)
        }
        let sidecars = Set(databases.flatMap { [$0 + Array("-wal".utf8), $0 + Array("-shm".utf8)] })
        var entries: [Tree.Entry] = []
        var subdirectories: [TreeScanner.Entry] = []
        var fileJobs: [TreeScanner.Entry] = []
        for item in listing {
            switch item.kind {
            case .directory:
                subdirectories.append(item)
            case .symlink, .whiteout:
                entries.append(Tree.Entry(name: item.name, kind: item.kind, mode: item.mode, size: 0, mtimeNanoseconds: item.mtimeNanoseconds,
                                          symlinkTarget: item.symlinkTarget, uid: item.uid, gid: item.gid))
            case .file, .sqlite:
                if sidecars.contains(item.name) { continue }
                fileJobs.append(item)
            }
        }
        // Subdirectories are walked in parallel with this directory's files; `limiter` bounds the
        // files open across the whole tree, and each directory keeps at most `concurrency` queued.
        try await withThrowingTaskGroup(of: (isFile: Bool, result: FileResult?).self) { group in
            // At most `concurrency` subdirectories of one directory are walked at once: a million
            // sibling directories are not a million tasks.
            var walking = 0
            for item in subdirectories {
                while walking >= concurrency, let next = try await group.next() {
                    if !next.isFile { walking -= 1 }
                    if let result = next.result { record(result, into: &entries) }
                }
                walking += 1
                let childPath = path + [47] + item.name
                let childRelative = relative.isEmpty ? item.name : relative + [47] + item.name
                group.addTask {
                    guard let subtree = try await commitDirectory(path: childPath, relative: childRelative) else { return (false, nil) }
                    counters.values.withLock { $0.directories += 1 }
                    return (false, FileResult(entry: Tree.Entry(name: item.name, kind: .directory, mode: item.mode, size: 0,
                                                                mtimeNanoseconds: item.mtimeNanoseconds, subtree: subtree.id,
                                                                uid: item.uid, gid: item.gid, opaque: subtree.opaque), cacheKey: []))
                }
            }
            var running = 0
            for item in fileJobs {
                while running >= concurrency, let next = try await group.next() {
                    if next.isFile { running -= 1 } else { walking -= 1 }
                    if let result = next.result { record(result, into: &entries) }  // nil: it vanished meanwhile
                }
                let childPath = path + [47] + item.name
                let childRelative = relative.isEmpty ? item.name : relative + [47] + item.name
                let isDatabase = databases.contains(item.name)
                group.addTask { (true, try await limiter.withPermit { try await commitFile(item, path: childPath, relative: childRelative, isDatabase: isDatabase) }) }
                running += 1
            }
            for try await next in group { if let result = next.result { record(result, into: &entries) } }
        }
        let tree = Tree(entries: entries)
        let encoded = tree.encoded()
        let id = BlobID(hashing: encoded)
        if !(await uploader.isStored(id)) {
            let sealed = try encoded.withUnsafeBytes { try key.sealBlob($0, id: id) }
            try await uploader.add(kind: .tree, id: id, sealed: sealed, rawLength: encoded.count)
        }
        return (id, scanned.opaque)
    }

    private func record(_ result: FileResult, into entries: inout [Tree.Entry]) {
        entries.append(result.entry)
        guard result.entry.kind != .directory else { return }
        let progress = counters.values.withLock { values in
            values.files += 1
            values.bytes = values.bytes.addingReportingOverflow(result.entry.size).overflow ? .max : values.bytes + result.entry.size
            if let cacheEntry = result.cacheEntry { values.cache[result.cacheKey] = cacheEntry }
            if let database = result.database { values.databases.append(database) }
            return CommitProgress(files: values.files, bytes: values.bytes)
        }
        onProgress?(progress)
    }

    /// nil when the file vanished or became something else while the tree was walked.
    private func commitFile(_ item: TreeScanner.Entry, path: [UInt8], relative: [UInt8], isDatabase: Bool) async throws -> FileResult? {
        let display = String(decoding: relative, as: UTF8.self)
        // Counted whole, whether read or reused: a sparse 16 TiB file, or one file hard-linked a
        // thousand times, is as much work to keep as its size says.
        try charge(bytes: item.size)
        if isDatabase {
            let (chunks, database): ([BlobID], Generation.Database)
            if let databaseSource {
                let captured = try await databaseSource.capture(relativePath: display, absolutePath: String(decoding: path, as: UTF8.self), sink: sink(volume: volume!))
                (chunks, database) = (captured.chunks, captured.database)
            } else {
                (chunks, database) = try await commitDatabase(path: path, display: display)
            }
            let entry = Tree.Entry(name: item.name, kind: .sqlite, mode: item.mode, size: UInt64(database.pageSize * database.pageCount),
                                   mtimeNanoseconds: item.mtimeNanoseconds, chunks: chunks, uid: item.uid, gid: item.gid)
            return FileResult(entry: entry, cacheKey: relative, cacheEntry: nil, database: database)
        }
        if let cached = previous.entries[relative], cached.size == item.size, cached.mtimeNanoseconds == item.mtimeNanoseconds,
           cached.ctimeNanoseconds == item.ctimeNanoseconds, cached.inode == item.inode, await uploader.areStored(cached.chunks) {
            return FileResult(entry: Tree.Entry(name: item.name, kind: .file, mode: item.mode, size: item.size, mtimeNanoseconds: item.mtimeNanoseconds,
                                                chunks: cached.chunks, uid: item.uid, gid: item.gid),
                              cacheKey: relative, cacheEntry: cached)
        }
        // A file written while it is read is read again; one that never holds still is an error,
        // never a torn copy.
        for _ in 0..<5 {
            guard let fd = try TreeScanner.openFile(root: root, relative: relative, display: display) else { return nil }
            let read = try await chunkFile(fd: fd, display: display, pinImage: false)
            guard let read else { continue }
            counters.values.withLock { $0.filesRead += 1 }
            let entry = Tree.Entry(name: item.name, kind: .file, mode: UInt32(read.stat.st_mode & 0o7777), size: UInt64(read.stat.st_size),
                                   mtimeNanoseconds: Self.mtime(read.stat), chunks: read.chunks, uid: read.stat.st_uid, gid: read.stat.st_gid)
            let cacheEntry = StatCache.Entry(size: UInt64(read.stat.st_size), mtimeNanoseconds: Self.mtime(read.stat),
                                             ctimeNanoseconds: TreeScanner.nanoseconds(read.stat.st_ctim),
                                             inode: UInt64(read.stat.st_ino), chunks: read.chunks)
            return FileResult(entry: entry, cacheKey: relative, cacheEntry: cacheEntry)
        }
        throw StoreError(.unreadable, "\(display) kept changing while it was read; nothing was committed")
    }

    /// Puts WAL segments into the store and snapshot files into this commit's packs, for database shippers.
    func sink(volume: Volume) -> BlobSink {
        BlobSink(addSegment: { bytes in
            try await volume.writeSegment(bytes)
        }, addFile: { path in
            guard let read = try await chunkFile(fd: try Self.openScratch(path, display: path), display: path, pinImage: true) else {
                throw StoreError(.io, "the snapshot \(path) changed while it was read")
            }
            return (read.chunks, read.sha256 ?? "")
        })
    }

    static func mtime(_ info: stat) -> Int64 { TreeScanner.nanoseconds(info.st_mtim) }

    /// Counts what the walk took on, and stops it with a clear error past `limits`: the tree may be
    /// a guest's, made to exhaust the host's memory or cores.
    private func charge(entries: Int = 0, nameBytes: Int = 0, bytes: UInt64 = 0) throws {
        let exceeded: String? = counters.values.withLock { values in
            values.entriesSeen = values.entriesSeen.addingReportingOverflow(entries).overflow ? .max : values.entriesSeen + entries
            values.nameBytesSeen = values.nameBytesSeen.addingReportingOverflow(nameBytes).overflow ? .max : values.nameBytesSeen + nameBytes
            values.logicalBytes = values.logicalBytes.addingReportingOverflow(bytes).overflow ? .max : values.logicalBytes + bytes
            if values.entriesSeen > limits.entries { return "more than \(limits.entries) files and directories" }
            if values.nameBytesSeen > limits.nameBytes { return "more than \(limits.nameBytes >> 20) MiB of file names" }
            if values.logicalBytes > limits.bytes { return "more than \(limits.bytes >> 30) GiB of file contents (a sparse file counts at its full size)" }
            if let deadline = limits.deadline, Date() > deadline { return "more than its time allows to read" }
            return nil
        }
        if let exceeded { throw StoreError(.limitExceeded, "the tree holds \(exceeded); nothing was committed") }
    }

    /// A consistent image of a WAL-mode database, taken with SQLite's backup API inside one read
    /// transaction: never a raw copy of a file that is being written.
    private func commitDatabase(path: [UInt8], display: String) async throws -> ([BlobID], Generation.Database) {
        let temporary = SQLiteConnection.scratchPath("snapshot")
        defer { SQLiteConnection.removeScratch(temporary) }
        let (pageSize, pageCount) = try Self.backupDatabase(String(decoding: path, as: UTF8.self), to: temporary, display: display)
        guard let read = try await chunkFile(fd: try Self.openScratch(temporary, display: display), display: display, pinImage: true) else {
            throw StoreError(.io, "the snapshot of \(display) changed while it was read")
        }
        return (read.chunks, Generation.Database(path: display, pageSize: pageSize, pageCount: pageCount, sha256: read.sha256 ?? ""))
    }

    static func backupDatabase(_ path: String, to temporary: String, display: String) throws -> (Int, Int) {
        do {
            return try SQLiteConnection(path: path, mode: .readOnly).snapshot(to: temporary)
        } catch let error as StoreError {
            throw StoreError(.unreadable, "cannot take a consistent copy of the database \(display)", detail: error.detail ?? error.message)
        }
    }

    /// Hashes a chunk and, unless an equal one is stored or queued, seals it for a pack.
    private func store(_ chunk: UnsafeRawBufferPointer) async throws -> BlobID {
        let id = BlobID(hashing: chunk)
        return try await store(id, length: chunk.count) { try key.sealBlob(chunk, id: id) }
    }

    private func store(_ chunk: [UInt8]) async throws -> BlobID {
        let id = BlobID(hashing: chunk)
        return try await store(id, length: chunk.count) { try chunk.withUnsafeBytes { try key.sealBlob($0, id: id) } }
    }

    private func store(_ id: BlobID, length: Int, seal: () throws -> [UInt8]) async throws -> BlobID {
        if !(await uploader.isStored(id)) { try await uploader.add(kind: .data, id: id, sealed: try seal(), rawLength: length) }
        return id
    }

    struct ReadResult { var chunks: [BlobID]; var stat: stat; var sha256: String? }

    /// A snapshot this process wrote in its own scratch space (never a path from the tree).
    static func openScratch(_ path: String, display: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw StoreError(.unreadable, "cannot read \(display): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Reads, chunks, hashes and seals the file open at `fd`, and closes it; with `pinImage`, also
    /// the digest that pins it as a database image. Returns nil if the file changed while it was read.
    private func chunkFile(fd: Int32, display: String, pinImage: Bool) async throws -> ReadResult? {
        defer { close(fd) }
        var before = stat()
        fstat(fd, &before)
        // Small files (most of a source tree) get a buffer their size, not three maximum chunks:
        // a 12 MiB allocation per file is a mmap, page faults and a munmap each time.
        let sizeSeen = Int(clamping: max(0, before.st_size))
        let capacity = min(3 * chunker.maximum, max(64 << 10, sizeSeen.addingReportingOverflow(1).overflow ? sizeSeen : sizeSeen + 1))
        // Never more than the size seen at the open (plus one byte, to notice growth): a file the
        // guest keeps extending cannot keep the read going.
        var remaining = sizeSeen.addingReportingOverflow(1).overflow ? sizeSeen : sizeSeen + 1
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var start = 0, filled = 0, eof = false
        var slots: [BlobID?] = []
        // Cutting is sequential and fast; hashing, compressing and sealing a large file's chunks
        // run on every core, so one big file (a database image, a blob) does not run on one.
        let parallel = sizeSeen >= 2 * chunker.maximum
        try await withThrowingTaskGroup(of: (Int, BlobID).self) { group in
            var inFlight = 0
            while true {
                if limits.deadline != nil { try charge() }  // a commit past its time stops mid-file too
                if !eof && filled - start < chunker.maximum {
                    if start > 0 {
                        buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: filled - start)
                        filled -= start
                        start = 0
                    }
                    while filled < capacity {
                        if remaining == 0 { eof = true; break }
                        let n = read(fd, buffer.baseAddress! + filled, min(capacity - filled, remaining))
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw StoreError(.unreadable, "cannot read \(display): \(String(cString: strerror(errno)))")
                        }
                        if n == 0 { eof = true; break }
                        filled += n
                        remaining -= n
                    }
                }
                if filled == start { break }
                let window = UnsafeRawBufferPointer(rebasing: buffer[start..<filled])
                let length = chunker.cut(window)
                let chunk = UnsafeRawBufferPointer(rebasing: window[0..<length])
                if parallel {
                    if inFlight >= concurrency, let (index, id) = try await group.next() { slots[index] = id; inFlight -= 1 }
                    let index = slots.count
                    slots.append(nil)  // filled when its task ends
                    let bytes = [UInt8](chunk)
                    group.addTask { (index, try await store(bytes)) }
                    inFlight += 1
                } else {
                    slots.append(try await store(chunk))
                }
                start += length
            }
            for try await (index, id) in group { slots[index] = id }
        }
        let chunks = slots.map { $0! }
        var after = stat()
        fstat(fd, &after)
        if after.st_size != before.st_size || Self.mtime(after) != Self.mtime(before) { return nil }
        return ReadResult(chunks: chunks, stat: after, sha256: pinImage ? Generation.Database.imageDigest(chunks: chunks) : nil)
    }
}
