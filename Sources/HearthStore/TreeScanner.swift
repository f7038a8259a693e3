import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Lists a directory with raw byte names and `lstat` data. It needs no store access or keys, so it can
/// run where the files are (inside a sandbox) while packing and upload run on the host.
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
        var symlinkTarget: [UInt8] = []
    }

    static func list(_ path: [UInt8], display: String) throws -> [Entry] {
        guard let dir = path.withCString({ opendir($0) }) else {
            throw StoreError(.unreadable, "cannot read directory \(display): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while true {
            errno = 0
            guard let raw = readdir(dir) else {
                if errno != 0 { throw StoreError(.unreadable, "cannot list \(display): \(String(cString: strerror(errno)))") }
                break
            }
            let name = withUnsafeBytes(of: raw.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name == [46] || name == [46, 46] { continue }
            let child = path + [47] + name
            var info = stat()
            guard child.withCString({ lstat($0, &info) }) == 0 else {
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
                let n = child.withCString { readlink($0, &buffer, buffer.count) }
                guard n >= 0 else { throw StoreError(.unreadable, "cannot read link \(display)/\(String(decoding: name, as: UTF8.self))") }
                target = Array(buffer[0..<n])
            default:
                // Sockets, FIFOs and devices have no content to keep.
                continue
            }
            entries.append(Entry(
                name: name, kind: kind, mode: UInt32(info.st_mode & 0o7777), size: format == S_IFREG ? UInt64(info.st_size) : 0,
                mtimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                ctimeNanoseconds: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec),
                inode: UInt64(info.st_ino), device: UInt64(info.st_dev), symlinkTarget: target))
        }
        return entries.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// True for a SQLite database in WAL mode: the header magic, and read/write versions 2.
    static func isWALDatabase(_ path: [UInt8]) -> Bool {
        guard let header = SQLiteConnection.readHeader(String(decoding: path, as: UTF8.self), count: 20), header.count == 20 else { return false }
        return header[0..<16].elementsEqual(Array("SQLite format 3".utf8) + [0]) && header[18] == 2 && header[19] == 2
    }
}

extension Array where Element == UInt8 {
    func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (self + [0]).withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }
}
