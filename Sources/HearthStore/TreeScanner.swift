import CHearthGuest
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Lists a directory with raw byte names and `lstat` data. It needs no store access or keys, so it can
/// run where the files are (inside a sandbox) while packing and upload run on the host.
///
/// Every open is relative to the committed root's fd and resolved beneath it with no symlink or `..`
/// followed (`hearth_open_beneath`): the tree may be a workspace's overlay layer, written by a guest
/// that can swap any directory for a link to the host's `/` between our listing and our open.
struct TreeScanner {
    struct Entry {
        var name: [UInt8]
        var kind: Tree.Kind
        var mode: UInt32
        var size: UInt64
        var mtimeNanoseconds: Int64
        var ctimeNanoseconds: Int64
        var inode: UInt64
        var device: UInt64
        var uid: UInt32
        var gid: UInt32
        var symlinkTarget: [UInt8] = []
    }

    struct Listing {
        var entries: [Entry]
        /// The directory carries the overlay's opaque mark (`trusted.overlay.opaque=y`).
        var opaque: Bool
    }

    /// Opens the committed root itself (a host path the caller chose, never one from the tree).
    static func openRoot(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.invalidArgument, "\(path) is not a readable directory: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// nil when the directory is gone or is no longer a directory (it changed during the walk).
    /// `charge` is called for every entry kept, with the bytes of its name and link target, while
    /// the directory is read: a commit's limits stop a huge directory before it is all in memory.
    static func list(root: Int32, relative: [UInt8], display: String, limit: Int = .max,
                     charge: (Int) throws -> Void = { _ in }) throws -> Listing? {
        let fd = openBeneath(root, relative, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else {
            if Self.changedDuringWalk(errno) { return nil }
            throw StoreError(.unreadable, "cannot open directory \(display): \(String(cString: strerror(errno)))")
        }
        let opaque = isOpaque(fd)
        guard let dir = fdopendir(fd) else {
            close(fd)
            throw StoreError(.unreadable, "cannot read directory \(display): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        let dirfd = dirfd(dir)
        var entries: [Entry] = []
        while true {
            errno = 0
            guard let raw = readdir(dir) else {
                if errno != 0 { throw StoreError(.unreadable, "cannot list \(display): \(String(cString: strerror(errno)))") }
                break
            }
            let name = withUnsafeBytes(of: raw.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name == [46] || name == [46, 46] { continue }
            // One directory of millions of entries is refused while it is read, not after.
            if entries.count >= limit {
                throw StoreError(.limitExceeded, "the directory \(display) holds more than \(limit) entries; nothing was committed")
            }
            var info = stat()
            guard name.withCString({ fstatat(dirfd, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                if errno == ENOENT { continue }
                throw StoreError(.unreadable, "cannot stat \(display)/\(String(decoding: name, as: UTF8.self)): \(String(cString: strerror(errno)))")
            }
            let format = info.st_mode & S_IFMT
            let kind: Tree.Kind
            var target: [UInt8] = []
            switch format {
            case S_IFREG: kind = .file
            case S_IFDIR: kind = .directory
            case S_IFLNK:
                kind = .symlink
                var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = name.withCString { readlinkat(dirfd, $0, &buffer, buffer.count) }
                guard n >= 0 else {
                    if errno == ENOENT || errno == EINVAL { continue }
                    throw StoreError(.unreadable, "cannot read link \(display)/\(String(decoding: name, as: UTF8.self))")
                }
                target = Array(buffer[0..<min(n, Int(PATH_MAX))])
            case S_IFCHR where info.st_rdev == 0:
                kind = .whiteout
            default:
                // Sockets, FIFOs and devices have no content to keep.
                continue
            }
            try charge(name.count + target.count + relative.count + 1)
            entries.append(Entry(
                name: name, kind: kind, mode: UInt32(info.st_mode & 0o7777), size: format == S_IFREG ? UInt64(max(0, info.st_size)) : 0,
                mtimeNanoseconds: nanoseconds(info.st_mtim), ctimeNanoseconds: nanoseconds(info.st_ctim),
                inode: UInt64(info.st_ino), device: UInt64(info.st_dev), uid: info.st_uid, gid: info.st_gid, symlinkTarget: target))
        }
        return Listing(entries: entries.sorted { $0.name.lexicographicallyPrecedes($1.name) }, opaque: opaque)
    }

    /// Opens a regular file beneath the root for reading. It is looked at through `O_PATH` first, so
    /// a FIFO or device put there never has its open run; nil when it is gone or no longer a file.
    static func openFile(root: Int32, relative: [UInt8], display: String) throws -> Int32? {
        let handle = openBeneath(root, relative, hearth_o_path())
        guard handle >= 0 else {
            if changedDuringWalk(errno) { return nil }
            throw StoreError(.unreadable, "cannot read \(display): \(String(cString: strerror(errno)))")
        }
        defer { close(handle) }
        var info = stat()
        guard fstat(handle, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let fd = open("/proc/self/fd/\(handle)", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.unreadable, "cannot read \(display): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// True for a SQLite database in WAL mode: the header magic, and read/write versions 2. Read
    /// through SQLite's VFS (see `readHeader`), so only for trees the host trusts: guest trees
    /// never have their databases detected.
    static func isWALDatabase(_ path: [UInt8]) -> Bool {
        guard let header = SQLiteConnection.readHeader(String(decoding: path, as: UTF8.self), count: 20), header.count == 20 else { return false }
        return header[0..<16].elementsEqual(Array("SQLite format 3".utf8) + [0]) && header[18] == 2 && header[19] == 2
    }

    /// A path that vanished or turned into a link or a non-directory between the listing and the
    /// open: the tree changed under the walk, and the next commit sees its new state.
    static func changedDuringWalk(_ code: Int32) -> Bool {
        code == ENOENT || code == ELOOP || code == EXDEV || code == ENOTDIR
    }

    static func openBeneath(_ root: Int32, _ relative: [UInt8], _ flags: Int32) -> Int32 {
        (relative.isEmpty ? [46] : relative).withCString { hearth_open_beneath(root, $0, flags, 0) }
    }

    static func isOpaque(_ fd: Int32) -> Bool { hearth_overlay_opaque(fd) == 1 }

    static func nanoseconds(_ time: timespec) -> Int64 {
        Int64(time.tv_sec).multipliedReportingOverflow(by: 1_000_000_000).partialValue &+ Int64(time.tv_nsec)
    }
}

extension Array where Element == UInt8 {
    func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (self + [0]).withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }
}
