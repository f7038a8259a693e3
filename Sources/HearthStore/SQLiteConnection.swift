import Foundation
import GRDBSQLite

#if canImport(Glibc)
import Glibc
#endif

/// A bare SQLite connection for the WAL shipper. GRDB's queues end every transaction they open;
/// the shipper must hold a read transaction across calls (so no one else can restart the log under
/// it) and run the backup API inside it, which needs the C API directly.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    let path: String

    enum Mode { case readOnly, readWrite, create }

    init(path: String, mode: Mode = .readWrite) throws {
        self.path = path
        let access: Int32 = switch mode {
        case .readOnly: SQLITE_OPEN_READONLY
        case .readWrite: SQLITE_OPEN_READWRITE
        case .create: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        let flags = access | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "status \(status)"
            sqlite3_close(handle)
            handle = nil
            throw StoreError(.unreadable, "cannot open the database \(path)", detail: message)
        }
        // SQLite's own busy handler backs off to 100 ms sleeps, so a connection waiting for the write
        // lock starves behind an application that commits in a tight loop. Retrying every 100 µs for
        // up to 10 s takes the lock in one of the gaps between its transactions.
        sqlite3_busy_handler(handle, { _, attempt in
            guard attempt < 100_000 else { return 0 }
            usleep(100)
            return 1
        }, nil)
    }

    deinit { sqlite3_close_v2(handle) }

    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard status == SQLITE_OK else {
            throw StoreError(.io, "SQLite refused a statement on \(path)", detail: "\(sql): \(message.map { String(cString: $0) } ?? "status \(status)")")
        }
    }

    func integer(_ sql: String) throws -> Int {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            throw StoreError(.io, "SQLite refused a query on \(path)", detail: "\(sql): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else {
            throw StoreError(.io, "SQLite returned no row on \(path)", detail: "\(sql): \(String(cString: sqlite3_errmsg(handle)))")
        }
        return Int(sqlite3_column_int64(statement, 0))
    }

    /// Starts a read transaction and takes its snapshot now (a deferred BEGIN alone takes none).
    func beginRead() throws {
        try execute("BEGIN DEFERRED")
        _ = try integer("SELECT count(*) FROM sqlite_master")
    }

    /// Takes the database's write lock without writing, so no other connection can append to the log.
    func beginWrite() throws { try execute("BEGIN IMMEDIATE") }

    var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    func end() throws { try execute("ROLLBACK") }

    /// A passive checkpoint copies what it can into the database file and never waits for readers.
    func checkpointPassive() throws -> (logFrames: Int, checkpointed: Int) {
        var log: Int32 = 0, done: Int32 = 0
        let status = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &done)
        guard status == SQLITE_OK || status == SQLITE_BUSY else {
            throw StoreError(.io, "checkpoint failed on \(path)", detail: String(cString: sqlite3_errmsg(handle)))
        }
        return (Int(log), Int(done))
    }

    /// Copies this connection's snapshot (its open read transaction's, or a fresh one) into a new
    /// database file at `destination`, left in WAL mode like the original, and returns its page
    /// size and count. SQLite's backup API: never a raw copy of a file that is being written.
    func snapshot(to destination: String) throws -> (pageSize: Int, pageCount: Int) {
        let target = try SQLiteConnection(path: destination, mode: .create)
        // The copy is a scratch file until it is hashed: no journal and no fsync for its writes.
        // Reading the source through mmap spares a pread per page.
        try target.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF")
        try? execute("PRAGMA mmap_size=1073741824")
        guard let backup = sqlite3_backup_init(target.handle, "main", handle, "main") else {
            throw StoreError(.io, "cannot start a backup of \(path)", detail: String(cString: sqlite3_errmsg(target.handle)))
        }
        let status = sqlite3_backup_step(backup, -1)
        sqlite3_backup_finish(backup)
        guard status == SQLITE_DONE else {
            throw StoreError(.io, "the backup of \(path) failed", detail: "status \(status): \(String(cString: sqlite3_errmsg(target.handle)))")
        }
        try target.execute("PRAGMA journal_mode=WAL")
        return (try target.integer("PRAGMA page_size"), try target.integer("PRAGMA page_count"))
    }

    /// A scratch path for a copy of a database (a snapshot, a restore being checked).
    static func scratchPath(_ purpose: String) -> String { NSTemporaryDirectory() + "hearth-\(purpose)-\(UUID().uuidString).db" }

    /// Removes a scratch database and every sidecar SQLite may have made next to it.
    static func removeScratch(_ path: String) { for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) } }

    /// The first `count` bytes of a database file, read through SQLite's own VFS. A plain
    /// open()/close() on a database file drops every POSIX lock this process holds on it, including
    /// the shared lock each WAL-mode connection keeps; another process closing its last connection
    /// could then take the file exclusively, checkpoint past the shipper's read mark and delete the
    /// log and the shared memory under this process's feet. SQLite's VFS defers such a close.
    static func readHeader(_ path: String, count: Int) -> [UInt8]? {
        guard let vfs = sqlite3_vfs_find(nil), let open = vfs.pointee.xOpen else { return nil }
        let file = UnsafeMutableRawPointer.allocate(byteCount: Int(vfs.pointee.szOsFile), alignment: 16)
        file.initializeMemory(as: UInt8.self, repeating: 0, count: Int(vfs.pointee.szOsFile))
        defer { file.deallocate() }
        let handle = file.assumingMemoryBound(to: sqlite3_file.self)
        // The unix VFS keeps the name for the file's lifetime and may look past its end for URI
        // parameters, so it gets a buffer with the double terminator SQLite's own names have.
        let name = Array(path.utf8CString) + [0, 0]
        return name.withUnsafeBufferPointer { name -> [UInt8]? in
            var outFlags: Int32 = 0
            guard open(vfs, name.baseAddress, handle, SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_READONLY, &outFlags) == SQLITE_OK,
                  let methods = handle.pointee.pMethods else { return nil }
            defer { _ = methods.pointee.xClose(handle) }
            var bytes = [UInt8](repeating: 0, count: count)
            let status = bytes.withUnsafeMutableBytes { methods.pointee.xRead(handle, $0.baseAddress, Int32(count), 0) }
            return status == SQLITE_OK ? bytes : nil
        }
    }
}
