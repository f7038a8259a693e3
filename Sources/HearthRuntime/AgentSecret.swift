#if canImport(Glibc)
import Glibc
#endif
public import HearthCore
public import HearthWire

/// The host's copy of a workspace agent's per-boot secret (see `AgentAuthentication`).
///
/// Kept in the workspace's state directory, which the host alone writes: never in the sandbox's
/// root filesystem or upper layer, nor in a microVM's `vm/` directory, which QEMU may write. It
/// survives pause and resume (the agent keeps its copy in memory, which the snapshot holds) and a
/// server restart (reconnect reads it back).
public enum AgentSecret {
    public static let fileName = "agent.key"

    /// Makes a fresh secret for an agent about to start, and files it (root-owned, 0600).
    public static func create(in directory: String) throws -> [UInt8] {
        var random = SystemRandomNumberGenerator()
        let secret = (0..<AgentAuthentication.secretLength).map { _ in UInt8.random(in: 0...255, using: &random) }
        let path = directory + "/" + fileName
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot create", path) }
        defer { close(fd) }
        let written = secret.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == secret.count, fchmod(fd, 0o600) == 0, fsync(fd) == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw failure("cannot write", path)
        }
        return secret
    }

    /// The secret of the agent already running (or saved) for this workspace. Refuses a file that
    /// is not a regular, private, host-owned file of the right size: a workspace that started
    /// before agents authenticated has none and cannot be reconnected to.
    public static func load(from directory: String) throws -> [UInt8] {
        let path = directory + "/" + fileName
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(), info.st_mode & 0o077 == 0,
              info.st_size == off_t(AgentAuthentication.secretLength) else {
            throw failure("refused", path)
        }
        var secret = [UInt8](repeating: 0, count: AgentAuthentication.secretLength)
        let n = secret.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == AgentAuthentication.secretLength else { throw failure("cannot read", path) }
        return secret
    }

    private static func failure(_ what: String, _ path: String) -> HearthError {
        HearthError(.agentUnavailable, "the workspace agent's credentials are missing; restart the workspace",
                    detail: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
