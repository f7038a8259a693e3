public import CHearthGuest
public import Foundation
public import HearthCore

/// File access inside trees that a guest or an image wrote: an image's root filesystem, a
/// workspace's overlay layer. A path there is resolved beneath its root with no symlink, magic link
/// or `..` followed (`openat2`), so a link planted by the guest cannot point the host elsewhere.
public enum Beneath {
    /// Why a path beneath a root could not be used.
    public enum Refusal: Error, Equatable {
        case missing
        /// A symlink, a `..`, or a magic link on the way.
        case link
        case notRegularFile
        case tooLarge
        case system(Int32)
    }

    /// Reads the regular file `path` (relative to `root`) whole, refusing one larger than `limit`.
    /// The open does not block on a FIFO, and a device or directory is refused.
    public static func read(_ path: String, beneath root: String, limit: Int) throws(Refusal) -> [UInt8] {
        // Looked at through O_PATH first: opening a device node for reading runs its driver's open.
        let handle = try open(path, beneath: root, flags: hearth_o_path())
        defer { close(handle) }
        var info = stat()
        guard fstat(handle, &info) == 0 else { throw .system(errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notRegularFile }
        guard info.st_size >= 0, info.st_size <= limit else { throw .tooLarge }
        let fd = Glibc.open("/proc/self/fd/\(handle)", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(errno) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var filled = 0
        while filled <= limit {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, limit + 1 - filled) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw .system(errno) }
            if n == 0 { break }
            filled += n
        }
        // A file that grew past the limit while read is refused, not cut.
        guard filled <= limit else { throw .tooLarge }
        return Array(bytes[..<filled])
    }

    /// Makes the directory `path` (relative to `root`, its parent must exist) if nothing is there.
    /// Something already there, a symlink included, is left as it is: inside the sandbox a link
    /// resolves within the sandbox's own root.
    public static func makeDirectory(_ path: String, beneath root: String, mode: mode_t = 0o755) throws(Refusal) {
        let parts = path.split(separator: "/")
        guard let last = parts.last, last != "..", last != "." else { throw .link }
        let parent = parts.dropLast().joined(separator: "/")
        let dirfd = try open(parent.isEmpty ? "." : parent, beneath: root, flags: hearth_o_path() | O_DIRECTORY)
        defer { close(dirfd) }
        if mkdirat(dirfd, String(last), mode) != 0, errno != EEXIST { throw .system(errno) }
    }

    /// An fd for `path` beneath `root`, opened with `flags` (close-on-exec, never following a link).
    public static func open(_ path: String, beneath root: String, flags: Int32, mode: mode_t = 0) throws(Refusal) -> Int32 {
        let rootfd = Glibc.open(root, hearth_o_path() | O_DIRECTORY | O_CLOEXEC)
        guard rootfd >= 0 else { throw errno == ENOENT ? .missing : .system(errno) }
        defer { close(rootfd) }
        let relative = String(path.drop(while: { $0 == "/" }))
        if relative.isEmpty || relative == "." {
            let fd = Glibc.openat(rootfd, ".", flags | O_CLOEXEC)
            guard fd >= 0 else { throw .system(errno) }
            return fd
        }
        let fd = hearth_open_beneath(rootfd, relative, flags, mode)
        guard fd >= 0 else {
            switch errno {
            case ENOENT: throw .missing
            case ELOOP, EXDEV, ENOTDIR: throw .link
            default: throw .system(errno)
            }
        }
        return fd
    }
}
