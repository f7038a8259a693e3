import CHearthGuest
public import Foundation
import Synchronization
import GRDB

#if canImport(Glibc)
import Glibc
#endif

public struct RestoreResult: Codable, Sendable {
    public var generation: UInt64
    public var files: Int
    public var bytes: UInt64
    public var databases: Int
    public var seconds: Double
}

extension Volume {
    /// Restores a generation into `target`, which must not exist or be empty. Every blob is re-hashed
    /// as it is read and every database is checked (its image hash and `PRAGMA integrity_check`).
    /// On any failure the partial restore is removed: a restore is complete and correct, or absent.
    public func restore(generation number: UInt64?, to target: URL, concurrency: Int = 4,
                        onProgress: (@Sendable (UInt64, UInt64) -> Void)? = nil) async throws -> RestoreResult {
        let started = Date()
        let generation = try await resolve(number)
        let fileManager = FileManager.default
        if let existing = try? fileManager.contentsOfDirectory(atPath: target.path), !existing.isEmpty {
            throw StoreError(.invalidArgument, "\(target.path) is not empty; restore into a new or empty directory")
        }
        try fileManager.createDirectory(at: target, withIntermediateDirectories: true)
        do {
            let result = try await restoreContents(generation, into: target.path, concurrency: concurrency, onProgress: onProgress)
            return RestoreResult(generation: generation.generation, files: result.files, bytes: result.bytes,
                                 databases: generation.databases.count, seconds: Date().timeIntervalSince(started))
        } catch {
            try? fileManager.removeItem(at: target)
            throw error
        }
    }

    private struct Placement { var file: Int; var offset: Int }

    private func restoreContents(_ generation: Generation, into root: String, concurrency: Int,
                                 onProgress: (@Sendable (UInt64, UInt64) -> Void)?) async throws -> (files: Int, bytes: UInt64) {
        let index = try await loadIndex(excludingCondemned: false)
        let rootBytes = Array(root.utf8)
        var files: [[UInt8]] = []
        var sizes: [Int] = []
        var fileEntries: [Tree.Entry] = []
        var directories: [([UInt8], Tree.Entry)] = []
        var placements: [BlobID: [Placement]] = [:]
        var databaseImages: [String: [BlobID]] = [:]
        var totalBytes: UInt64 = 0
        let databases = Dictionary(generation.databases.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })

        try await walk(generation.root, index: index) { path, entry in
            let full = rootBytes + [47] + path
            switch entry.kind {
            case .directory:
                guard full.withCString({ mkdir($0, 0o700) }) == 0 else { throw Self.restoreError("mkdir", path) }
                if entry.opaque {
                    // Needs CAP_SYS_ADMIN, as the overlay that made it had: only the server restores layers.
                    guard full.withCString({ hearth_set_overlay_opaque($0) }) == 0 else { throw Self.restoreError("setxattr", path) }
                }
                directories.append((full, entry))
            case .whiteout:
                guard full.withCString({ mknod($0, S_IFCHR | 0o000, 0) }) == 0 else { throw Self.restoreError("mknod", path) }
                Self.applyOwner(full, entry, follow: false)
            case .symlink:
                guard entry.symlinkTarget.withCString({ target in full.withCString { symlink(target, $0) } }) == 0 else { throw Self.restoreError("symlink", path) }
                var times = [timespec(tv_sec: Int(entry.mtimeNanoseconds / 1_000_000_000), tv_nsec: Int(entry.mtimeNanoseconds % 1_000_000_000))]
                times.append(times[0])
                _ = full.withCString { utimensat(AT_FDCWD, $0, times, AT_SYMLINK_NOFOLLOW) }
                Self.applyOwner(full, entry, follow: false)
            case .file, .sqlite:
                let display = String(decoding: path, as: UTF8.self)
                let chunks = entry.kind == .sqlite ? (databases[display]?.imageChunks(treeChunks: entry.chunks) ?? entry.chunks) : entry.chunks
                let fileNumber = files.count
                if entry.kind == .sqlite, databases[display] != nil { databaseImages[display] = chunks }
                var offset = 0
                for chunk in chunks {
                    guard let location = index.location(of: chunk) else {
                        throw StoreError(.damaged, "\(display): chunk \(chunk) is in no index")
                    }
                    placements[chunk, default: []].append(Placement(file: fileNumber, offset: offset))
                    offset += location.rawLength
                }
                sizes.append(offset)
                files.append(full)
                fileEntries.append(entry)
                totalBytes += UInt64(offset)
            }
        }

        // Creating tens of thousands of files is syscall-bound: spread it over the cores.
        let created = files, sized = sizes
        try await Self.inParallel(created.count, workers: concurrency) { number in
            let fd = created[number].withCString { Glibc.open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
            guard fd >= 0, ftruncate(fd, off_t(sized[number])) == 0 else {
                throw Self.restoreError("create", Array(created[number].dropFirst(rootBytes.count + 1)))
            }
            close(fd)
        }

        // Fetch pack by pack and write each blob wherever it belongs, so no pack is read twice.
        var byPack: [String: [(BlobID, BlobLocation)]] = [:]
        for id in placements.keys { let location = index.location(of: id)!; byPack[location.pack, default: []].append((id, location)) }
        let databasePacks = Set(databaseImages.values.joined().map { index.location(of: $0)!.pack })
        // The databases' packs go first, so that checking the databases (hash, WAL replay,
        // integrity_check: serial work per database) overlaps the restore of everything else.
        let order = byPack.sorted { databasePacks.contains($0.key) && !databasePacks.contains($1.key) }
        let placed = placements
        let fileList = files
        let images = databaseImages
        let total = totalBytes
        let progress = ProgressTally()
        try await withThrowingTaskGroup(of: String?.self) { group in
            var running = 0
            var databasePacksLeft = databasePacks.count
            var databasesStarted = false
            // Called as packs finish: once every database pack is written, the databases are
            // checked alongside the packs still to come.
            func finished(_ pack: String?, _ group: inout ThrowingTaskGroup<String?, any Error>) {
                if let pack, databasePacks.contains(pack) { databasePacksLeft -= 1 }
                guard !databasesStarted, databasePacksLeft == 0 else { return }
                databasesStarted = true
                for database in generation.databases {
                    group.addTask { try await self.finishDatabase(root + "/" + database.path, database, image: images[database.path] ?? [], index: index); return nil }
                }
            }
            finished(nil, &group)
            for (pack, blobs) in order {
                if running >= concurrency { finished(try await group.next() ?? nil, &group); running -= 1 }
                group.addTask {
                    try await self.restorePack(pack, blobs: blobs, placements: placed, files: fileList)
                    let done = progress.add(blobs.reduce(0) { $0 + UInt64($1.1.rawLength * placed[$1.0]!.count) })
                    onProgress?(done, total)
                    return pack
                }
                running += 1
            }
            while let pack = try await group.next() { finished(pack, &group) }
        }
        let entries = fileEntries
        try await Self.inParallel(created.count, workers: concurrency) { number in try Self.applyMetadata(created[number], entries[number]) }
        for (full, entry) in directories.reversed() { try Self.applyMetadata(full, entry) }
        return (files.count, totalBytes)
    }

    private func restorePack(_ pack: String, blobs: [(BlobID, BlobLocation)], placements: [BlobID: [Placement]], files: [[UInt8]]) async throws {
        let key = StoreLayout.pack(family, pack)
        let needed = blobs.reduce(0) { $0 + $1.1.length }
        let span = blobs.map { $0.1.offset + $0.1.length }.max() ?? 0
        // One GET for the pack when most of it is needed; range GETs when only a few blobs are.
        var whole: [UInt8]?
        if needed * 2 >= span || blobs.count > 32 {
            do { whole = try await store.get(key).bytes } catch let error as StoreError where error.code == .notFound {
                throw StoreError(.damaged, "pack \(pack.prefix(12)) is missing")
            }
        }
        for (id, location) in blobs {
            let sealed: [UInt8]
            if let whole {
                guard location.offset + location.length <= whole.count else { throw StoreError(.damaged, "pack \(pack.prefix(12)) is truncated") }
                sealed = Array(whole[location.offset..<(location.offset + location.length)])
            } else {
                sealed = try await store.get(key, range: location.offset..<(location.offset + location.length))
            }
            let plain = try self.key.openBlob(sealed, id: id, rawLength: location.rawLength)
            for placement in placements[id]! {
                let fd = files[placement.file].withCString { Glibc.open($0, O_WRONLY | O_CLOEXEC) }
                guard fd >= 0 else { throw StoreError(.io, "cannot reopen a restored file") }
                defer { close(fd) }
                var done = 0
                while done < plain.count {
                    let n = plain.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, plain.count - done, off_t(placement.offset + done)) }
                    if n < 0 { if errno == EINTR { continue }; throw errno == ENOSPC ? StoreError(.noSpace, "the restore target's disk is full") : StoreError(.io, "write failed: \(String(cString: strerror(errno)))") }
                    done += n
                }
            }
        }
    }

    /// Runs `body` for 0..<count on `workers` tasks, each taking a contiguous slice.
    static func inParallel(_ count: Int, workers: Int, _ body: @escaping @Sendable (Int) throws -> Void) async throws {
        let slice = max(1, (count + workers - 1) / max(1, workers))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for start in stride(from: 0, to: count, by: slice) {
                group.addTask { for number in start..<min(count, start + slice) { try body(number) } }
            }
            try await group.waitForAll()
        }
    }

    /// Owners are put back only by root (a workspace's layer, restored by the server); a user's
    /// restore of a volume gets files it owns, as restic's does.
    static func applyOwner(_ path: [UInt8], _ entry: Tree.Entry, follow: Bool) {
        guard let uid = entry.uid, let gid = entry.gid, geteuid() == 0 else { return }
        _ = path.withCString { follow ? chown($0, uid, gid) : lchown($0, uid, gid) }
    }

    static func applyMetadata(_ path: [UInt8], _ entry: Tree.Entry) throws {
        // The owner before the mode: chown clears set-id bits.
        applyOwner(path, entry, follow: true)
        _ = path.withCString { chmod($0, mode_t(entry.mode)) }
        var times = [timespec(tv_sec: Int(entry.mtimeNanoseconds / 1_000_000_000), tv_nsec: Int(entry.mtimeNanoseconds % 1_000_000_000))]
        times.append(times[0])
        _ = path.withCString { utimensat(AT_FDCWD, $0, times, 0) }
    }

    /// Checks a database's base image against what pins it, replays its WAL segments (each re-hashed
    /// and checked against SQLite's frame checksums), and runs `integrity_check` on the result.
    func finishDatabase(_ path: String, _ expected: Generation.Database, image: [BlobID], index: BlobIndex) async throws {
        let digest = expected.sha256.hasPrefix(Generation.Database.chunkDigestPrefix)
            ? Generation.Database.imageDigest(chunks: image) : try Self.sha256(ofFile: path)
        guard digest == expected.sha256 else {
            throw StoreError(.damaged, "database \(expected.path) does not match the image that was committed")
        }
        if let wal = expected.wal, !wal.isEmpty {
            let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw StoreError(.io, "cannot reopen the restored database \(expected.path)") }
            defer { close(fd) }
            var pages = expected.pageCount
            for (number, id) in wal.enumerated() {
                do {
                    let segment = try WALSegment.decode(try await readSegment(id))
                    guard segment.cursor.header.pageSize == expected.pageSize else { throw StoreError(.damaged, "its page size differs from the database's") }
                    pages = try segment.apply(to: fd)
                } catch let error as StoreError where error.code == .damaged || error.code == .notFound {
                    throw StoreError(.damaged, "database \(expected.path): WAL segment \(number + 1) of \(wal.count): \(error.message)")
                }
            }
            guard ftruncate(fd, off_t(pages * expected.pageSize)) == 0, fsync(fd) == 0 else { throw Self.restoreError("truncate", Array(path.utf8)) }
        }
        try Self.checkIntegrity(path, name: expected.path)
    }

    static func checkIntegrity(_ path: String, name: String) throws {
        let result: String
        do {
            let queue = try DatabaseQueue(path: path)
            result = try queue.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") ?? "" }
            try queue.close()
        } catch {
            throw StoreError(.damaged, "database \(name) does not open", detail: "\(error)")
        }
        guard result == "ok" else { throw StoreError(.damaged, "database \(name) fails integrity_check: \(result)") }
    }

    static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw StoreError(.io, "cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256Hasher()
        while let data = try handle.read(upToCount: 4 << 20), !data.isEmpty { hasher.update(data) }
        return hasher.hex()
    }

    static func restoreError(_ call: String, _ path: [UInt8]) -> StoreError {
        let code = errno
        if code == ENOSPC { return StoreError(.noSpace, "the restore target's disk is full") }
        return StoreError(.io, "cannot \(call) \(String(decoding: path, as: UTF8.self)): \(String(cString: strerror(code)))")
    }
}

final class ProgressTally: Sendable {
    private let total = Mutex<UInt64>(0)
    func add(_ bytes: UInt64) -> UInt64 { total.withLock { $0 += bytes; return $0 } }
}
