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

/// Runs one process and streams it. Output is only read as fast as the host grants credit, so a
/// process writing GiBs is held back by its pipe instead of filling anybody's memory.
struct ExecOperation {
    let request: ExecRequest
    let stream: AgentStream
    let context: AgentContext

    /// How long output may keep arriving after the process exits, from children that inherited its pipes.
    static let drainGraceNanos: UInt64 = 100_000_000

    /// A terminal on a kernel that does not raise its signals: the spawn helper stays as the
    /// session's supervisor and the agent relays Ctrl-C and friends to it.
    var relaysSignals: Bool { request.pty != nil && !TerminalSignalRelay.kernelRaisesSignals }

    /// When a process with `timeoutMs` started at `now` is killed. The host's number is not
    /// trusted: one too large to add saturates at the end of time instead of trapping, which would
    /// kill the agent, PID 1 of a microVM.
    static func deadline(now: UInt64, timeoutMs: UInt64?) -> UInt64? {
        guard let timeoutMs else { return nil }
        let (nanos, overflow) = timeoutMs.multipliedReportingOverflow(by: 1_000_000)
        if overflow { return .max }
        let (deadline, late) = now.addingReportingOverflow(nanos)
        return late ? .max : deadline
    }

    func run() throws(WireError) {
        guard !request.argv.isEmpty else { throw WireError(.invalidArgument, "empty argv") }
        // A detachable terminal: its process outlives this stream (see `DetachableTerminal`).
        let channel: any ExecChannel
        if let key = request.session, request.pty != nil {
            let terminal = DetachableTerminal(stream)
            guard DetachableTerminals.shared.register(key, terminal) else {
                throw WireError(.invalidArgument, "the terminal session key is taken or invalid")
            }
            channel = terminal
        } else {
            channel = stream
        }
        let io: ChildIO
        if let size = request.pty { io = try ChildIO.pty(size) } else { io = try ChildIO.pipes() }
        let pid: pid_t
        do {
            pid = try spawn(io)
        } catch let error where error.code == .notFound {
            io.closeChildEnds()
            io.closeParentEnds()
            close(io.inputFD)
            channel.send(.stderr, Array("hearth: \(error.message)\n".utf8)[...])
            channel.sendControl(.exited(HearthWire.ExitStatus(code: 127)))
            return
        }
        io.closeChildEnds()
        ChildReaper.shared.start()
        channel.sendControl(.started(pid: pid))

        let isTerminal = io.master != nil
        let supervisor = relaysSignals ? pid : nil
        channel.handleControls { control in
            switch control {
            case .signal(let signal):
                // A terminal's shell puts its jobs in groups of their own; the session holds them all.
                if isTerminal { ProcessTable.signalSession(pid, signal) } else if kill(-pid, signal) != 0 { kill(pid, signal) }
            case .resize(let size):
                if let master = io.master { TerminalSignalRelay.resize(master, size, supervisor: supervisor) }
            default: break
            }
        }

        let exited = ExitFlag()
        let group = ThreadGroup()
        let output = channel
        for (fd, channel) in io.outputs {
            group.start { pump(from: fd, to: channel, on: output, exited: exited) }
        }
        startThread { feedInput(to: io.inputFD, from: output, relayingSignalsTo: supervisor) }

        let deadline = Self.deadline(now: monotonicNanos(), timeoutMs: request.timeoutMs)
        var status = ChildReaper.shared.wait(pid, untilMonotonicNanos: deadline)
        var timedOut = false
        if status == nil {
            timedOut = true
            if isTerminal {
                ProcessTable.signalSession(pid, SIGKILL)
            } else {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
            }
            status = ChildReaper.shared.wait(pid, untilMonotonicNanos: nil)
        }
        exited.set()
        group.wait()
        io.closeParentEnds()
        var final = status ?? ExitStatus(code: 255)
        final.timedOut = timedOut
        channel.sendControl(.exited(final))
    }

    private func spawn(_ io: ChildIO) throws(WireError) -> pid_t {
        let cwd = request.cwd ?? (access(context.defaultDirectory, X_OK) == 0 ? context.defaultDirectory : "/")
        let env = context.baseEnvironment.merging(request.env) { $1 }
        // The helper is needed only to change user or take a controlling terminal; otherwise
        // posix_spawn does everything and saves an execve, the dominant cost of a short exec.
        if request.user == nil && request.pty == nil {
            return try spawnDirect(io, cwd: cwd, env: env)
        }
        let spec = SpawnSpec(argv: request.argv, env: env, cwd: cwd, user: request.user, pty: request.pty != nil,
                             relaySignals: relaysSignals)
        let json = String(decoding: (try? JSONEncoder().encode(spec)) ?? Data(), as: UTF8.self)
        // A relayed signal may be queued at once (a terminal's first resize); its default action
        // would kill the helper before it starts waiting for it, so it is blocked from birth.
        return try Self.posixSpawn(context.executablePath, argv: [context.executablePath, "spawn-helper"],
                                   env: ["\(SpawnSpec.environmentKey)=\(json)"], io: io, cwd: nil,
                                   ownGroup: request.pty == nil, blocked: relaysSignals ? [TerminalSignalRelay.relaySignal] : [],
                                   what: "spawn")
    }

    private func spawnDirect(_ io: ChildIO, cwd: String, env: [String: String]) throws(WireError) -> pid_t {
        guard let executable = resolve(request.argv[0], path: env["PATH"] ?? "") else {
            // What a shell would say, on the process's own stderr, with the shell's exit code.
            throw ExecOperation.notFound(request.argv[0])
        }
        return try Self.posixSpawn(executable, argv: request.argv, env: env.map { "\($0.key)=\($0.value)" }, io: io, cwd: cwd,
                                   ownGroup: true, what: request.argv[0])
    }

    /// posix_spawn with the child's stdio from `io` and nothing else inherited: the agent's own
    /// channel must never leak into a workspace process.
    private static func posixSpawn(_ path: String, argv: [String], env: [String], io: ChildIO, cwd: String?,
                                   ownGroup: Bool, blocked: [Int32] = [], what: String) throws(WireError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (index, fd) in io.childFDs.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, fd, Int32(index))
        }
        hearth_spawn_closefrom(&actions, 3)
        if let cwd, hearth_spawn_chdir(&actions, cwd) != 0 {
            throw WireError(.invalidArgument, "cannot use \(cwd) as the working directory")
        }
        var attributes = posix_spawnattr_t()
        prepareAttributes(&attributes, ownGroup: ownGroup, blocked: blocked)
        defer { posix_spawnattr_destroy(&attributes) }
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer { (cArgv + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, cArgv, cEnv)
        guard rc == 0 else { throw Posix.error(what, rc) }
        return pid
    }

    /// Children start with every signal unblocked and at its default action (the agent blocks
    /// SIGTERM and ignores SIGPIPE for itself, and both would otherwise be inherited across exec),
    /// and, unless a PTY session makes them a session leader, in a process group of their own from
    /// birth, so a signal or timeout reaches everything they start.
    static func prepareAttributes(_ attributes: inout posix_spawnattr_t, ownGroup: Bool, blocked: [Int32] = []) {
        posix_spawnattr_init(&attributes)
        var none = sigset_t()
        sigemptyset(&none)
        for signal in blocked { sigaddset(&none, signal) }
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
    }

    /// The executable `name` names, looked up on `path` like execvp does.
    private func resolve(_ name: String, path: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            var st = Glibc.stat()
            if access(candidate, X_OK) == 0, stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG { return candidate }
        }
        return nil
    }

    static func notFound(_ command: String) -> WireError { WireError(.notFound, "\(command): command not found") }

    private func pump(from fd: Int32, to channel: DataChannel, on stream: any ExecChannel, exited: ExitFlag) {
        var deliver = true
        while true {
            // Stop only when the pipe is idle: output still buffered after the exit is never dropped.
            if !Posix.waitReady(fd, events: Int16(POLLIN), timeoutMs: 50) {
                if exited.isSet(since: Self.drainGraceNanos) { break }
                continue
            }
            guard let bytes = Posix.readSome(fd, max: WireLimits.maxDataChunk), !bytes.isEmpty else { break }
            // Keep draining after the host went away so the process is never blocked on a full pipe.
            if deliver { deliver = stream.send(channel, bytes[...]) }
        }
        if deliver { stream.sendEOF(channel) }
    }

    /// With a `supervisor`, the terminal's signal characters are turned into signals here, since
    /// the kernel does not (see `TerminalSignalRelay`).
    private func feedInput(to fd: Int32, from stream: any ExecChannel, relayingSignalsTo supervisor: pid_t?) {
        defer { close(fd) }
        while let item = stream.receive() {
            switch item {
            case .data(_, let bytes):
                let written = if let supervisor {
                    TerminalSignalRelay.write(bytes, to: fd, supervisor: supervisor) { stream.send(.bytes, $0[...]) }
                } else {
                    Posix.writeAll(fd, bytes)
                }
                if !written { return }
            case .eof:
                return
            }
        }
    }
}

/// The fds of one child: pipes for stdin/stdout/stderr, or a PTY.
struct ChildIO {
    var childFDs: [Int32]
    var inputFD: Int32
    var outputs: [(Int32, DataChannel)]
    var master: Int32?

    static func pipes() throws(WireError) -> ChildIO {
        var fds = [Int32](repeating: -1, count: 6)
        for i in 0..<3 {
            let rc = fds.withUnsafeMutableBufferPointer { hearth_pipe2_cloexec($0.baseAddress! + i * 2) }
            guard rc == 0 else { throw Posix.error("pipe") }
        }
        // Fewer, larger reads: every syscall is costly under gVisor's ptrace platform.
        _ = fcntl(fds[2], 1031, 1 << 20)  // F_SETPIPE_SZ (GNU)
        // stdin: child reads fds[0], agent writes fds[1]. stdout/stderr: agent reads [2]/[4].
        return ChildIO(childFDs: [fds[0], fds[3], fds[5]], inputFD: fds[1],
                       outputs: [(fds[2], .stdout), (fds[4], .stderr)], master: nil)
    }

    static func pty(_ size: PTYSize) throws(WireError) -> ChildIO {
        var name = [CChar](repeating: 0, count: 128)
        let master = hearth_open_pty(&name, name.count)
        guard master >= 0 else { throw Posix.error("open pty") }
        let slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else { throw Posix.error("open pty") }
        resize(master, size)
        let input = dup(master)
        _ = fcntl(input, F_SETFD, FD_CLOEXEC)
        return ChildIO(childFDs: [slave, slave, slave], inputFD: input, outputs: [(master, .bytes)], master: master)
    }

    static func resize(_ fd: Int32, _ size: PTYSize) {
        var ws = winsize(ws_row: size.rows, ws_col: size.cols, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(fd, UInt(TIOCSWINSZ), &ws)
    }

    func closeChildEnds() {
        for fd in Set(childFDs) { close(fd) }
    }

    func closeParentEnds() {
        for (fd, _) in outputs { close(fd) }
    }
}

final class ExitFlag: @unchecked Sendable {
    private let lock = ConditionLock()
    private var at: UInt64?
    func set() { lock.withLock { at = monotonicNanos() } }
    func isSet(since grace: UInt64) -> Bool {
        lock.withLock { at.map { monotonicNanos() >= $0 + grace } ?? false }
    }
}

/// Waits for a set of threads to finish.
final class ThreadGroup: @unchecked Sendable {
    private let lock = ConditionLock()
    private var running = 0

    /// Runs `body` on a thread of its own; false (and nothing to wait for) when no thread could
    /// be started, so `wait` never waits on a thread that does not exist.
    @discardableResult
    func start(_ body: @escaping @Sendable () -> Void) -> Bool {
        lock.withLock { running += 1 }
        let started = startThread { [self] in
            body()
            finished()
        }
        if !started { finished() }
        return started
    }

    private func finished() {
        lock.withLock {
            running -= 1
            lock.broadcast()
        }
    }

    func wait() {
        lock.withLock { while running > 0 { lock.wait() } }
    }
}
