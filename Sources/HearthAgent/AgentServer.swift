#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

/// Entry points of the agent: serve stdio, serve a unix socket, bridge stdio to that socket.
public enum AgentServer {
    /// Serves the stdio channel for the life of the process. After a checkpoint the same fds carry
    /// a new host connection (gVisor re-donates stdio on restore), so a quiesced or closed session
    /// is followed by waiting for the fd to come alive again.
    public static func serveStdio(context: AgentContext) -> Never {
        Posix.setBlocking(0)
        Posix.setBlocking(1)
        serveForever(readFD: 0, writeFD: 1, context: context)
    }

    /// Serves a character device (a microVM's virtio-serial port). While no host is connected the
    /// port reads as end-of-file and polls as hung up; a host that connects (after a server restart
    /// or a resume) speaks first, which makes the port readable again.
    public static func serve(device: String, context: AgentContext) -> Never {
        var fd: Int32 = -1
        while fd < 0 {
            fd = open(device, O_RDWR | O_CLOEXEC)
            if fd < 0 { usleep(100_000) }
        }
        serveForever(readFD: fd, writeFD: fd, context: context)
    }

    private static func serveForever(readFD: Int32, writeFD: Int32, context: AgentContext) -> Never {
        let channel = ChannelWriteLock()
        while true {
            let end = AgentSession(readFD: readFD, writeFD: writeFD, channel: channel, context: context, mayProvision: true).run()
            if end == .quiesced { continue }
            // Closed or broken: the host may come back after a restore. Poll gently until then.
            while true {
                var pfd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
                let rc = poll(&pfd, 1, 250)
                if rc > 0 && pfd.revents & Int16(POLLHUP | POLLERR | POLLNVAL) == 0 && !atEndOfFile(readFD) { break }
                usleep(250_000)
            }
        }
    }

    /// Whether a socket whose peer has gone reads as end-of-file. Such a socket polls readable
    /// (POLLIN without POLLHUP) forever, which once made an orphaned agent start a session, read
    /// EOF and start another, at full speed: a gVisor sandbox whose server had died spun at 55% CPU.
    /// A character device (a microVM's port) cannot be peeked and is served as before.
    private static func atEndOfFile(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    /// Serves every connection to a unix socket inside the sandbox. `hearth-guest bridge` connects
    /// here, so a host that lost the stdio channel (a restarted server) can reach the agent again.
    public static func listen(path: String, context: AgentContext) {
        let abstract = path.hasPrefix("@")
        // /run is a fresh tmpfs in a sandbox: the socket's directory must be made first.
        if !abstract { _ = try? FileOperations.makeDirectory(FileOperations.parent(of: path), parents: true) }
        let fd = hearth_listen_unix(path, 16)
        guard fd >= 0 else { return }
        if !abstract { chmod(path, 0o600) }
        startThread {
            while true {
                let client = hearth_accept_cloexec(fd)
                if client < 0 { if errno == EINTR { continue } else { return } }
                let started = startThread {
                    _ = AgentSession(socket: client, context: context).run()
                }
                if !started { close(client) }
            }
        }
    }

    /// On SIGTERM (a graceful stop), passes the signal to every process in the sandbox, gives them
    /// a moment, and exits; the runtime forces what is left after its own grace period.
    public static func handleTermination() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        startDedicatedThread {
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGTERM)
            var received: Int32 = 0
            sigwait(&set, &received)
            kill(-1, SIGTERM)
            let deadline = monotonicNanos() + 3_000_000_000
            while monotonicNanos() < deadline && kill(-1, 0) == 0 { usleep(50_000) }
            sync()
            if getpid() == 1 { PowerOff.now() }
            exit(0)
        }
    }

    /// Where `listen` serves and `bridge` connects unless told otherwise.
    public static let defaultSocket = AgentSocket.address

    /// No same-uid process may ptrace the agent or read its memory, where its secret lives.
    /// Reset by execve, so the processes the agent spawns are unaffected.
    public static func makeNonDumpable() {
        _ = hearth_set_nondumpable()
    }

    /// Pumps stdin to the agent's socket and the socket to stdout.
    public static func bridge(path: String) -> Int32 {
        let fd = hearth_connect_unix(path)
        guard fd >= 0 else {
            _ = Posix.writeAll(2, Array("hearth-guest: cannot reach the agent at \(path)\n".utf8))
            return 1
        }
        Posix.setBlocking(0)
        Posix.setBlocking(1)
        startThread {
            while let bytes = Posix.readSome(0, max: 65536), !bytes.isEmpty, Posix.writeAll(fd, bytes) {}
            shutdown(fd, Int32(SHUT_WR))
        }
        while let bytes = Posix.readSome(fd, max: 65536), !bytes.isEmpty, Posix.writeAll(1, bytes) {}
        return 0
    }
}
