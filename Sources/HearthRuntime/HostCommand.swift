public import CHearthGuest
public import Foundation
public import HearthCore

/// Runs host programs (runsc, tar, mmdebstrap) with posix_spawn, waiting on a thread of its own so
/// the async pool never blocks. Only the fds named here reach the child: everything else Hearth
/// opens is close-on-exec, which matters because runsc hands its stdio to the sandbox.
public enum HostCommand {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var succeeded: Bool { status == 0 }
    }

    /// Runs to completion, capturing output. `stdio` replaces stdin and stdout with a given fd (an
    /// agent socket); such fds are never the server's own, since runsc makes them non-blocking.
    @discardableResult
    public static func run(_ argv: [String], stdio: Int32? = nil, stderrFile: String? = nil,
                           timeout: Duration = .seconds(60), environment: Environment? = nil) async throws -> Output {
        let out = try PipePair()
        let err: PipePair
        do { err = try PipePair() } catch { out.closeBoth(); throw error }
        let logFD: Int32?
        let pid: pid_t
        do {
            logFD = try stderrFile.map(openLog)
            pid = try spawn(argv, stdin: stdio ?? devNull(), stdout: stdio ?? out.write, stderr: logFD ?? err.write,
                            environment: environment ?? Self.environment)
        } catch {
            out.closeBoth()
            err.closeBoth()
            throw error
        }
        if let logFD { close(logFD) }
        // Each fd is closed exactly once: a double close could hit a number NIO has reused since.
        close(out.write)
        close(err.write)
        // Readers run on threads of their own and close their ends; blocking reads must never
        // occupy the cooperative pool (two threads on a two-core host).
        async let stdoutBytes = drain(out.read)
        async let stderrBytes = drain(err.read)
        // The deadline, or the caller's cancellation, kills the child and its process group; its
        // exit then ends the wait, and the group's end closes the pipes. (Waiting inside a task
        // group that also times out would not end sooner: the group waits for its waiting child.)
        let (status, timedOut) = await withTaskCancellationHandler {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    guard (try? await Task.sleep(for: timeout)) != nil else { return false }
                    return Reaper.shared.signal(pid, SIGKILL)
                }
                let status = await wait(pid)
                group.cancelAll()
                let fired = await group.next() ?? false
                return (status, fired)
            }
        } onCancel: {
            _ = Reaper.shared.signal(pid, SIGKILL)
        }
        let (o, e) = await (stdoutBytes, stderrBytes)
        if timedOut {
            throw HearthError(.timeout, "\(URL(fileURLWithPath: argv[0]).lastPathComponent) timed out after \(timeout)")
        }
        if Task.isCancelled { throw CancellationError() }
        return Output(status: status, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Starts a long-lived process (a bridge) and returns its pid; `wait(_:)` reaps it.
    public static func spawnDetached(_ argv: [String], stdio: Int32, stderrFile: String?, environment: Environment? = nil) throws -> pid_t {
        let logFD = try stderrFile.map(openLog)
        defer { if let logFD { close(logFD) } }
        return try spawn(argv, stdin: stdio, stdout: stdio, stderr: logFD ?? devNull(), environment: environment ?? Self.environment)
    }

    /// Waits for `pid` to exit on a dedicated thread. Returns its exit code, or 128 + signal.
    public static func wait(_ pid: pid_t) async -> Int32 {
        if let status = await Reaper.shared.wait(pid) { return status }
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: exitCode(status))
            }
        }
    }

    /// The exit code of a raw `waitpid` status, or 128 + the signal that ended it.
    static func exitCode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    private static func spawn(_ argv: [String], stdin: Int32, stdout: Int32, stderr: Int32, environment: Environment) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Not every fd the server holds is close-on-exec (NIO's listening socket is not), and runsc
        // passes what it inherits on to its gofer: give the child nothing beyond stdio.
        hearth_spawn_closefrom(&actions, 3)
        // A process group of its own: a deadline ends what the command started too (its children
        // hold the output pipes open), and the server's terminal signals reach only the server.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        // The configured minimal environment, never the server's own (see `Environment`).
        let env = environment.spawnEnvironment.map { strdup($0) } + [nil]
        defer { env.forEach { free($0) } }
        return try Reaper.shared.spawn {
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, env)
            guard rc == 0 else {
                throw HearthError(.runtimeUnavailable, "cannot run \(URL(fileURLWithPath: argv[0]).lastPathComponent)",
                                  detail: "\(argv.joined(separator: " ")): \(String(cString: strerror(rc)))")
            }
            return pid
        }
    }

    /// Reads `fd` to its end on a dedicated thread, then closes it.
    private static func drain(_ fd: Int32) async -> [UInt8] {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = read(fd, &buffer, buffer.count)
                    if n > 0 { bytes += buffer[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
                }
                close(fd)
                continuation.resume(returning: bytes)
            }
        }
    }

    private static func openLog(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw HearthError(.internal, "cannot open a log file", detail: "\(path): errno \(errno)") }
        return fd
    }

    private static let nullFD: Int32 = open("/dev/null", O_RDWR | O_CLOEXEC)
    private static func devNull() -> Int32 { nullFD }
}

/// A close-on-exec pipe whose write end goes to a child.
struct PipePair {
    let read: Int32
    let write: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard hearth_pipe2_cloexec(&fds) == 0 else { throw HearthError(.internal, "cannot create a pipe", detail: "errno \(errno)") }
        read = fds[0]
        write = fds[1]
    }

    func closeBoth() {
        close(read)
        close(write)
    }
}

/// A connected pair of stream sockets: one end for the host, one for the sandbox's stdio.
public struct SocketPair: Sendable {
    public let host: Int32
    public let guest: Int32

    public init() throws {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw HearthError(.internal, "cannot create the agent channel", detail: "socketpair: errno \(errno)")
        }
        host = fds[0]
        guest = fds[1]
    }
}

/// Where the host keeps the agent files that every sandbox gets read-only at `/.hearth`.
public struct AgentBundle: Sendable {
    public var directory: String
    public var guestBinary: String { directory + "/hearth-guest" }
    public var statxPreload: String { directory + "/libhearth-statx.so" }

    public init(directory: String) { self.directory = directory }

    /// `configured` (the CLI passes `$HEARTH_AGENT_DIR`; this library reads no environment), else the
    /// nearest `hearth-agent/` in the executable's directory or its parents (`.build/hearth-agent`
    /// for a build tree, `/usr/local/lib/hearth-agent` style for an install).
    public static func locate(configured: String? = nil) -> AgentBundle {
        if let configured, !configured.isEmpty {
            return AgentBundle(directory: configured)
        }
        // /proc/self/exe, not argv[0]: run through PATH, argv[0] is a bare name that would resolve
        // against the working directory.
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let exe = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            for candidate in [dir.appendingPathComponent("hearth-agent"), dir.appendingPathComponent("lib/hearth-agent")]
            where FileManager.default.isExecutableFile(atPath: candidate.path + "/hearth-guest") {
                return AgentBundle(directory: candidate.path)
            }
            dir = dir.deletingLastPathComponent()
        }
        return AgentBundle(directory: exe.deletingLastPathComponent().appendingPathComponent("hearth-agent").path)
    }

    public func check() throws {
        guard FileManager.default.isExecutableFile(atPath: guestBinary) else {
            throw HearthError(.runtimeUnavailable, "the guest agent is not built",
                              detail: "missing \(guestBinary); run scripts/setup.sh or set HEARTH_AGENT_DIR")
        }
    }
}
