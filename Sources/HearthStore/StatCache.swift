import Foundation

/// What a previous commit learned about each file: if size, mtime, ctime and inode are unchanged, the
/// file is not read again and its chunk list is reused (as long as every chunk is still indexed).
/// Kept outside the store, per volume, next to the writer.
struct StatCache {
    struct Entry {
        var size: UInt64
        var mtimeNanoseconds: Int64
        var ctimeNanoseconds: Int64
        var inode: UInt64
        var chunks: [BlobID]
    }

    var entries: [[UInt8]: Entry] = [:]

    static func file(directory: URL, store: String, volume: String) -> URL {
        let tag = BlobID(hashing: Array("\(store)|\(volume)".utf8)).hex.prefix(24)
        return directory.appendingPathComponent("statcache-\(tag)")
    }

    static func load(_ url: URL) -> StatCache {
        guard let data = try? Data(contentsOf: url) else { return StatCache() }
        var reader = ByteReader(Array(data))
        var cache = StatCache()
        do {
            guard try reader.take(4) == Array("HSC1".utf8) else { return StatCache() }
            for _ in 0..<Int(try reader.integer(UInt32.self)) {
                let path = try reader.take(Int(try reader.integer(UInt32.self)))
                let size = try reader.integer(UInt64.self)
                let mtime = Int64(bitPattern: try reader.integer(UInt64.self))
                let ctime = Int64(bitPattern: try reader.integer(UInt64.self))
                let inode = try reader.integer(UInt64.self)
                let chunks = try (0..<Int(try reader.integer(UInt32.self))).map { _ in BlobID(bytes: try reader.take(32))! }
                cache.entries[path] = Entry(size: size, mtimeNanoseconds: mtime, ctimeNanoseconds: ctime, inode: inode, chunks: chunks)
            }
        } catch {
            // A torn cache is only a slower commit.
            return StatCache()
        }
        return cache
    }

    func save(_ url: URL) {
        var out: [UInt8] = Array("HSC1".utf8)
        out.appendInteger(UInt32(entries.count))
        for (path, entry) in entries {
            out.appendInteger(UInt32(path.count))
            out.append(contentsOf: path)
            out.appendInteger(entry.size)
            out.appendInteger(UInt64(bitPattern: entry.mtimeNanoseconds))
            out.appendInteger(UInt64(bitPattern: entry.ctimeNanoseconds))
            out.appendInteger(entry.inode)
            out.appendInteger(UInt32(entry.chunks.count))
            for chunk in entry.chunks { out.append(contentsOf: chunk.bytes) }
        }
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = url.appendingPathExtension("tmp-\(getpid())")
        if (try? Data(out).write(to: temporary)) != nil { _ = rename(temporary.path, url.path) }
    }
}
