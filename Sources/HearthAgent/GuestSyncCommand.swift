#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

/// The two guest-side ends of `hearth-sync` besides the relay: the agent's sync socket, and the
/// command a workspace process runs (the agent's own executable, called by that name).
public enum GuestSyncCommand {
    /// The name the agent answers to as the command.
    public static let name = "hearth-sync"
    /// Where the command is put on the workspace's `PATH`.
    static let linkDirectory = "/usr/local/bin"
    /// Seconds a caller waits by default: long enough for a large commit, short enough that a
    /// script whose server is down learns it.
    static let defaultTimeoutSeconds = 300

    /// Serves the sync socket for the agent's life: one short-lived thread per caller, each
    /// waiting on `relay` (which refuses callers beyond `GuestSyncRelay.maxWaiting`).
    /// `path`: the socket (tests choose their own); by default `AgentSocket.sync`.
    /// Returns the listening socket (a test shuts it down to end the loop), or -1.
    @discardableResult
    public static func listen(path: String? = nil, relay: GuestSyncRelay) -> Int32 {
        let fd = hearth_listen_unix(path ?? AgentSocket.sync, 64)
        guard fd >= 0 else { return fd }
        startThread {
            while true {
                let client = hearth_accept_cloexec(fd)
                if client < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    // Out of descriptors for a moment (a workspace process may hold them all):
                    // the socket stays, and so does the agent.
                    if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                        usleep(100_000)
                        continue
                    }
                    return
                }
                if !startThread({ relay.answer(client) }) { close(client) }
            }
        }
        return fd
    }

    /// Puts `hearth-sync` on the workspace's `PATH`: a link in `/usr/local/bin` to the agent.
    /// This runs inside the guest, on the guest's own files: whatever a workspace made of that
    /// directory can mislead only itself. Anything already there by that name (the link of an
    /// earlier boot, or a file or link of the user's own) is left as it is.
    public static func installLink(agentPath: String) {
        var info = stat()
        guard lstat(linkDirectory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
        let link = linkDirectory + "/" + name
        if lstat(link, &info) == 0 { return }
        _ = symlink(agentPath, link)
    }

    /// `hearth-sync [--timeout SECONDS]`: returns once everything this workspace wrote before
    /// it is durable in the server's store, and prints the generation that holds it. Exit 0 on
    /// success, 1 on a refusal or a timeout, 2 on a usage error.
    public static func run(arguments: [String]) -> Int32 {
        var timeout = defaultTimeoutSeconds
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--timeout":
                guard let value = rest.popFirst().flatMap({ Int($0) }), value >= 0, value <= 86_400 else { return usage() }
                timeout = value
            case "-h", "--help":
                say(1, "usage: hearth-sync [--timeout SECONDS]\n"
                    + "Returns once everything this workspace wrote before it is durable in the server's store,\n"
                    + "and prints the generation that holds it. --timeout 0 waits for as long as it takes (default \(defaultTimeoutSeconds)).\n")
                return 0
            default:
                return usage()
            }
        }
        switch request(timeoutSeconds: timeout) {
        case .generation(let generation):
            say(1, "generation \(generation)\n")
            return 0
        case .refused(let message):
            say(2, "hearth-sync: \(message)\n")
            return 1
        }
    }

    /// What the agent answered one caller.
    public enum Answer: Equatable, Sendable {
        case generation(UInt64)
        case refused(String)
    }

    /// One barrier: flushes this side's dirty pages, asks the agent at `socket` (tests choose
    /// their own; by default `AgentSocket.sync`), waits up to `timeoutSeconds` (0: for as long as
    /// it takes) for its one-line answer. `flush: false` skips the `sync(2)`: a test on the host
    /// must not wait for every filesystem of the machine.
    public static func request(socket: String? = nil, timeoutSeconds: Int, flush: Bool = true) -> Answer {
        // The kernel's (or the sentry's) dirty pages first; the host flushes again before it commits.
        if flush { sync() }
        let fd = hearth_connect_unix(socket ?? AgentSocket.sync)
        guard fd >= 0 else { return .refused("the workspace agent is not serving hearth-sync here") }
        defer { close(fd) }
        let deadline = timeoutSeconds == 0 ? nil : monotonicNanos() &+ UInt64(timeoutSeconds) &* 1_000_000_000
        var reply: [UInt8] = []
        while reply.count < 4096, !reply.contains(UInt8(ascii: "\n")) {
            let now = monotonicNanos()
            if let deadline, now >= deadline { return .refused("no answer within \(timeoutSeconds) s (is the server running?)") }
            let wait = deadline.map { Int32(min(($0 - now) / 1_000_000 + 1, 60_000)) } ?? 60_000
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, wait)
            if polled < 0 && errno != EINTR { return .refused("cannot wait for the agent's answer (errno \(errno))") }
            if polled <= 0 { continue }
            guard let bytes = Posix.readSome(fd, max: 4096 - reply.count), !bytes.isEmpty else { break }
            reply += bytes
        }
        let line = String(decoding: reply.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        if line.hasPrefix("generation "), let generation = UInt64(line.dropFirst(11)) { return .generation(generation) }
        return .refused(line.hasPrefix("error: ") ? String(line.dropFirst(7)) : "the agent closed the call without an answer")
    }

    private static func usage() -> Int32 {
        say(2, "usage: hearth-sync [--timeout SECONDS]\n")
        return 2
    }

    private static func say(_ fd: Int32, _ text: String) {
        _ = Posix.writeAll(fd, Array(text.utf8))
    }
}
