#if canImport(Glibc)
import Glibc
#endif
import HearthWire

enum FileOperations {
    static func validate(_ path: String) throws(WireError) {
        guard path.hasPrefix("/"), !path.utf8.contains(0) else {
            throw WireError(.invalidArgument, "path must be absolute: \(path)")
        }
    }

    static func read(path: String, offset: UInt64?, length: UInt64?, stream: AgentStream) throws(WireError) {
        try validate(path)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Posix.error(path) }
        defer { close(fd) }
        let info = try stat(path)
        guard info.kind != .directory else { throw WireError(.isADirectory, "\(path) is a directory") }
        stream.sendControl(.result(.file(info)))
        // The offset comes from a client through the host: beyond off_t it would trap, and the
        // agent is PID 1 of a microVM.
        if let offset {
            guard let position = off_t(exactly: offset) else { throw WireError(.invalidArgument, "offset \(offset) is too large") }
            if lseek(fd, position, SEEK_SET) < 0 { throw Posix.error(path) }
        }
        var remaining = length ?? UInt64.max
        while remaining > 0 {
            guard let chunk = Posix.readSome(fd, max: Int(min(remaining, UInt64(WireLimits.maxDataChunk)))) else {
                throw Posix.error(path)
            }
            if chunk.isEmpty { break }
            remaining -= UInt64(chunk.count)
            if !stream.send(.bytes, chunk[...]) { return }
        }
        stream.sendEOF(.bytes)
    }

    /// Held from a conditional write's check to its rename, and by every rename of a write, so two
    /// writes that saw the same mtime cannot both replace the file (an editor's save race).
    static let replaceLock = ConditionLock()

    /// How far a file's mtime may be from the one a conditional write names and still count as
    /// unchanged: the API carries mtimes as decimal seconds.
    static let mtimeTolerance = 0.0005

    /// Writes to a temporary file beside the target and renames it over, so readers see old or new,
    /// never half. With `ifUnchangedSince`, the rename happens only if the target still has that
    /// mtime (or does not exist), checked under `replaceLock`.
    static func write(path: String, mode: UInt32?, createParents: Bool, ifUnchangedSince expected: Double? = nil,
                      stream: AgentStream) throws(WireError) {
        try validate(path)
        let directory = parent(of: path)
        if createParents { try makeDirectory(directory, parents: true) }
        let temporary = "\(directory)/.\(basename(path)).hearth-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode ?? 0o644))
        guard fd >= 0 else { throw Posix.error(directory) }
        var written: UInt64 = 0
        var complete = false
        defer {
            close(fd)
            if !complete { unlink(temporary) }
        }
        receive: while let item = stream.receive() {
            switch item {
            case .data(_, let bytes):
                guard Posix.writeAll(fd, bytes) else { throw Posix.error(path) }
                written += UInt64(bytes.count)
            case .eof:
                complete = true
                break receive
            }
        }
        guard complete else { return }  // The host went away: keep the old file.
        if let mode { fchmod(fd, mode_t(mode)) }
        guard fsync(fd) == 0 else {
            complete = false
            throw Posix.error(path)
        }
        try replaceLock.withLock { () throws(WireError) in
            let current = try? stat(path)
            if let expected, let current, !(abs(current.mtime - expected) <= mtimeTolerance) {
                complete = false
                throw WireError(.changed, "the file changed on disk since it was opened")
            }
            // File times come from a coarse clock (a tick of a few milliseconds): two saves within
            // one tick would have the same mtime, and a caller holding the first one's mtime could
            // overwrite the second. Each save's mtime is made later than the one it replaces.
            if let current { Self.ensureLater(fd, than: current.mtime) }
            guard rename(temporary, path) == 0 else {
                complete = false
                throw Posix.error(path)
            }
        }
        stream.sendControl(.result(.written(bytes: written)))
    }

    /// Sets the open file's mtime to 1 ms after `previous` unless it already is later by more than
    /// the tolerance a conditional write allows.
    static func ensureLater(_ fd: Int32, than previous: Double) {
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { return }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        guard mtime <= previous + 2 * mtimeTolerance, previous.isFinite, previous >= 0, previous < 1e15 else { return }
        let later = previous + 0.001
        let seconds = later.rounded(.down)
        // Both times: UTIME_OMIT is a macro Swift's Glibc does not carry, and a new file's atime
        // carries nothing worth keeping.
        let time = timespec(tv_sec: Int(seconds), tv_nsec: min(999_999_999, max(0, Int((later - seconds) * 1e9))))
        var times = [time, time]
        _ = futimens(fd, &times)
    }

    static func stat(_ path: String) throws(WireError) -> FileStat {
        try validate(path)
        var st = Glibc.stat()
        guard lstat(path, &st) == 0 else { throw Posix.error(path) }
        return describe(name: basename(path), st: st, path: path)
    }

    static func list(_ path: String) throws(WireError) -> [FileStat] {
        try validate(path)
        guard let dir = opendir(path) else { throw Posix.error(path) }
        defer { closedir(dir) }
        var entries: [FileStat] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            let full = path == "/" ? "/\(name)" : "\(path)/\(name)"
            var st = Glibc.stat()
            guard lstat(full, &st) == 0 else { continue }
            entries.append(describe(name: name, st: st, path: full))
        }
        return entries.sorted { $0.name < $1.name }
    }

    static func makeDirectory(_ path: String, parents: Bool) throws(WireError) {
        try validate(path)
        if parents {
            var current = ""
            for component in path.split(separator: "/") {
                current += "/\(component)"
                if mkdir(current, 0o755) != 0 && errno != EEXIST { throw Posix.error(current) }
            }
            guard isDirectory(path) else {
                throw WireError(.notADirectory, "\(path) exists and is not a directory")
            }
        } else if mkdir(path, 0o755) != 0 {
            throw Posix.error(path)
        }
    }

    static func remove(_ path: String, recursive: Bool) throws(WireError) {
        try validate(path)
        guard path != "/" else { throw WireError(.invalidArgument, "refusing to remove /") }
        var st = Glibc.stat()
        guard lstat(path, &st) == 0 else { throw Posix.error(path) }
        if st.st_mode & S_IFMT == S_IFDIR {
            if recursive {
                for entry in try list(path) { try remove("\(path)/\(entry.name)", recursive: true) }
            }
            guard rmdir(path) == 0 else { throw Posix.error(path) }
        } else if unlink(path) != 0 {
            throw Posix.error(path)
        }
    }

    static func move(_ from: String, _ to: String, overwrite: Bool) throws(WireError) {
        try validate(from)
        try validate(to)
        var st = Glibc.stat()
        if !overwrite && lstat(to, &st) == 0 { throw WireError(.alreadyExists, "\(to) exists") }
        guard rename(from, to) == 0 else { throw Posix.error(from) }
    }

    /// True when `path` resolves (following links) to a directory.
    static func isDirectory(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        closedir(dir)
        return true
    }

    static func describe(name: String, st: Glibc.stat, path: String) -> FileStat {
        let kind: FileStat.Kind = switch st.st_mode & S_IFMT {
        case S_IFREG: .file
        case S_IFDIR: .directory
        case S_IFLNK: .symlink
        default: .other
        }
        var target: String?
        if kind == .symlink {
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = readlink(path, &buffer, buffer.count - 1)
            if n >= 0 { target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        return FileStat(name: name, kind: kind, size: UInt64(st.st_size), mode: UInt32(st.st_mode & 0o7777),
                        mtime: mtime, linkTarget: target)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? "/"
    }
}
