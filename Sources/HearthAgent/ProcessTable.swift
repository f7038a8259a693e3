#if canImport(Glibc)
import Glibc
#endif

/// Processes as /proc lists them.
enum ProcessTable {
    /// The pids whose session is `session`, read from /proc/PID/stat.
    static func members(ofSession session: pid_t) -> [pid_t] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var pids: [pid_t] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = pid_t(name), sessionID(of: pid) == session else { continue }
            pids.append(pid)
        }
        return pids
    }

    /// Sends `signal` to every process of a terminal's session, as a hang-up of the terminal would
    /// reach them, including jobs the shell moved into process groups of their own.
    static func signalSession(_ session: pid_t, _ signal: Int32) {
        kill(-session, signal)
        for pid in members(ofSession: session) { kill(pid, signal) }
    }

    /// The session field of /proc/PID/stat. The command name may hold spaces and parentheses, so
    /// fields are counted from its last ')'.
    static func sessionID(of pid: pid_t) -> pid_t? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let bytes = Posix.readSome(fd, max: 1024), let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After ") ": state, ppid, pgrp, session.
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 3 else { return nil }
        return pid_t(String(decoding: fields[3], as: UTF8.self))
    }
}
