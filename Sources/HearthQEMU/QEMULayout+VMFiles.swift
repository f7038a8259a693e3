import CHearthGuest
public import Foundation
public import HearthCore

/// The host's only ways into a workspace's `vm/` directory, which the jailed QEMU (and whoever
/// takes it over) can write.
///
/// Every path the host uses there is `vm/NAME`, and `vm/` itself sits in a root-owned directory the
/// VM cannot change, so only the last component can be a trap: a symlink to a host file, a FIFO that
/// blocks a read forever, a directory. Each access therefore opens that component with `O_NOFOLLOW`
/// (and `O_NONBLOCK`), checks what it opened with `fstat`, and works on the descriptor.
enum VMFiles {
    /// `O_PATH`, which Glibc's Swift overlay does not export.
    static let pathOnly: Int32 = 0o10_000_000

    /// A descriptor of the regular file at `path`, or nil if it is missing (ENOENT), or an error if it
    /// is anything else (a symlink, a FIFO, a device, a directory).
    static func openRegular(_ path: String, _ flags: Int32) throws -> Int32? {
        let fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw HearthError(.runtimeFailed, "a file of the microVM is not what the host made", detail: "\(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw HearthError(.runtimeFailed, "a file of the microVM is not what the host made", detail: "\(path): not a regular file")
        }
        return fd
    }

    /// Whether a regular file is at `path`; anything but a regular file or nothing is an error.
    static func existsRegular(_ path: String) throws -> Bool {
        guard let fd = try openRegular(path, O_RDONLY) else { return false }
        close(fd)
        return true
    }

    /// The last `lines` lines of at most the last `maxBytes` of a regular file; "" for anything else.
    /// A console log the VM replaced with a symlink never shows the host's files in an error.
    static func tail(of path: String, lines: Int, maxBytes: Int = 64 * 1024) -> String {
        guard let fd = try? openRegular(path, O_RDONLY) else { return "" }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return "" }
        let size = Int(info.st_size)
        let start = max(0, size - maxBytes)
        var bytes = [UInt8](repeating: 0, count: min(size, maxBytes))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(start + done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
        let text = String(decoding: bytes[0..<done], as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Gives the regular file at `path` to the VM's ids with `mode`, through its descriptor; a
    /// missing file is left missing.
    static func claim(_ path: String, owner: (uid: UInt32, gid: UInt32), mode: mode_t) throws {
        guard let fd = try openRegular(path, O_RDONLY) else { return }
        defer { close(fd) }
        guard fchown(fd, owner.uid, owner.gid) == 0, fchmod(fd, mode) == 0 else {
            throw HearthError(.runtimeFailed, "cannot hand a disk to the microVM", detail: "\(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Moves a file the host built in a root-owned directory into `vm/`, owned by the VM. `rename`
    /// replaces whatever the VM left at the name (a symlink included) without following it.
    static func install(_ temporary: String, as path: String, owner: (uid: UInt32, gid: UInt32), mode: mode_t) throws {
        try claim(temporary, owner: owner, mode: mode)
        guard rename(temporary, path) == 0 else {
            throw HearthError(.runtimeFailed, "cannot place a disk of the microVM", detail: "\(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Connects to the unix socket at `path` only if it is a socket, not a symlink to someone
    /// else's (another workspace's agent, a host daemon): the socket inode is pinned with
    /// `O_PATH | O_NOFOLLOW` and connected through `/proc/self/fd`. Returns -1 with errno set.
    static func connect(socket path: String) -> Int32 {
        let pinned = open(path, pathOnly | O_NOFOLLOW | O_CLOEXEC)
        guard pinned >= 0 else { return -1 }
        defer { close(pinned) }
        var info = stat()
        guard fstat(pinned, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else {
            errno = ENOTSOCK
            return -1
        }
        return hearth_connect_unix("/proc/self/fd/\(pinned)")
    }
}

extension QEMULayout {
    /// Hands `vm/` and the VM's own files to this VM's ids, whoever owned them before (an older
    /// server ran every VM as one shared account). Nothing is followed; a file that is not a regular
    /// file stops the launch.
    func claim(owner: (uid: UInt32, gid: UInt32)) throws {
        guard fchownat(AT_FDCWD, vmDirectory, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw HearthError(.runtimeFailed, "cannot hand the VM directory to the microVM", detail: "\(vmDirectory): \(String(cString: strerror(errno)))")
        }
        for file in [rootDisk, workspaceDisk, memoryFile, console] {
            try VMFiles.claim(file, owner: owner, mode: 0o600)
        }
    }
}
