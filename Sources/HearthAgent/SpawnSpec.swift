#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

/// What the spawn helper must set up before `execve`. Passed in an environment variable so the
/// helper needs no channel of its own.
struct SpawnSpec: Codable {
    static let environmentKey = "HEARTH_SPAWN_SPEC"

    var argv: [String]
    var env: [String: String]
    var cwd: String
    var user: String?
    var pty: Bool
    /// The terminal's line discipline does not raise signals itself, so the helper stays behind as
    /// the session's leader to deliver them (see `TerminalSignalRelay`).
    var relaySignals: Bool = false
}

/// The child side of exec, run as `hearth-guest spawn-helper`. Single-threaded, so it may do
/// what a forked multi-threaded parent may not: setsid, TIOCSCTTY, setuid, chdir.
public enum SpawnHelper {
    public static func main() -> Never {
        // The one environment read in a library, and not configuration: the agent re-executes
        // itself as this helper and hands it the spec through its own child's environment (a
        // protocol between two halves of one program, inside the sandbox). It never reaches the
        // host, and the process's own environment is replaced by `spec.env` before `execve`.
        guard let raw = getenv(SpawnSpec.environmentKey),
              let spec = try? JSONDecoder().decode(SpawnSpec.self, from: Data(String(cString: raw).utf8)),
              let command = spec.argv.first
        else { fail("hearth: bad spawn spec", code: 126) }

        if spec.pty {
            setsid()
            _ = ioctl(0, UInt(TIOCSCTTY), 0)
            if spec.relaySignals { TerminalSignalRelay.forkSupervisor() }
        } else {
            setpgid(0, 0)
        }
        var env = spec.env
        if let user = spec.user {
            guard let account = Accounts.lookup(user) else { fail("hearth: unknown user \(user)", code: 126) }
            env["HOME"] = env["HOME"] ?? account.home
            env["USER"] = account.name
            env["LOGNAME"] = account.name
            var groups = Accounts.supplementaryGroups(of: account.name) + [account.gid]
            guard setgroups(groups.count, &groups) == 0, setgid(account.gid) == 0, setuid(account.uid) == 0 else {
                fail("hearth: cannot become \(user): \(String(cString: strerror(errno)))", code: 126)
            }
        }
        if chdir(spec.cwd) != 0 {
            fail("hearth: cannot enter \(spec.cwd): \(String(cString: strerror(errno)))", code: 126)
        }
        let argv = spec.argv.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        if let path = env["PATH"] { setenv("PATH", path, 1) }
        hearth_execvpe(command, argv, envp)
        let err = errno
        fail("hearth: \(command): \(err == ENOENT ? "command not found" : String(cString: strerror(err)))",
             code: err == ENOENT ? 127 : 126)
    }

    private static func fail(_ message: String, code: Int32) -> Never {
        _ = Posix.writeAll(2, Array((message + "\n").utf8))
        _exit(code)
    }
}

/// /etc/passwd and /etc/group, read directly: a static binary cannot use NSS.
enum Accounts {
    struct Account {
        var name: String
        var uid: uid_t
        var gid: gid_t
        var home: String
    }

    static func lookup(_ user: String) -> Account? {
        for line in lines("/etc/passwd") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 6, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { continue }
            if f[0] == user || String(uid) == user {
                return Account(name: String(f[0]), uid: uid, gid: gid, home: String(f[5]))
            }
        }
        if let uid = UInt32(user) { return Account(name: user, uid: uid, gid: uid, home: "/") }
        return nil
    }

    static func supplementaryGroups(of user: String) -> [gid_t] {
        lines("/etc/group").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 4, let gid = UInt32(f[2]) else { return nil }
            return f[3].split(separator: ",").contains(Substring(user)) ? gid : nil
        }
    }

    private static func lines(_ path: String) -> [Substring] {
        guard let fd = Optional(open(path, O_RDONLY)), fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        while let chunk = Posix.readSome(fd, max: 65536), !chunk.isEmpty { bytes += chunk }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n")
    }
}
