import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HearthCore

/// Replaces a small file of the audit log (its head, its anchor, its key) through a fresh temporary
/// (created with `O_EXCL`, so a file or link planted under that name is never written through)
/// renamed over the old. The key, written once, is synced with its directory so it survives a power
/// cut. The head and anchor are rewritten per event under the append lock, so they are not synced
/// (three fsyncs per event cut audited requests to a third): ext4 flushes a file replaced by rename
/// before the rename commits, and after a crash they may lag the log by the last events, which
/// verification tells apart from a cut.
enum AuditFile {
    static func replace(_ path: String, with bytes: [UInt8], what: String, syncingDirectory: Bool = false) throws {
        let temporary = "\(path).\(getpid()).\(UInt64.random(in: 0 ... .max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HearthError(.internal, "cannot record \(what)", detail: "open \(temporary): errno \(errno)") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = !syncingDirectory || fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw HearthError(.internal, "cannot record \(what)", detail: "write \(path): errno \(code)")
        }
        if syncingDirectory { syncDirectory(of: path) }
    }

    static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
