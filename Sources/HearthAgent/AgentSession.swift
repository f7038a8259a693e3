#if canImport(Glibc)
import Glibc
#endif
public import HearthWire

/// Serves one host connection over a byte stream (stdio, a unix socket, a virtio-serial port).
///
/// The reader thread never blocks on a stream: every operation runs on its own thread, inbound data
/// is bounded by the credit the agent granted, and any violation ends this session alone.
/// Processes outlive the session; their output is discarded once nobody can receive it.
public final class AgentSession: @unchecked Sendable {
    public enum End: Equatable {
        /// The peer closed the connection.
        case closed
        /// The host quiesced the channel for a checkpoint and the fd is now idle.
        case quiesced
        /// The peer broke the protocol.
        case violation(WireError)
    }

    private let readFD: Int32
    private let writer: FrameWriter
    private let context: AgentContext
    private let lock = ConditionLock()
    private var streams: [UInt32: AgentStream] = [:]
    private var decoder = FrameDecoder()
    private var greeted = false
    /// What the host's hello said: since version 5 it grows each stream's window from a small start.
    private var hostVersion = 0
    /// Whether this session runs on the channel the host created (stdio, the microVM's port), the
    /// only place the host's `provision` frame may arrive; never on the unix socket, which any
    /// process of the workspace can connect to.
    private let mayProvision: Bool
    private var framesSeen = 0
    /// Whether the session owns a socket it closes when it ends (a unix-socket client).
    private let ownsSocket: Bool

    /// A session on fds that outlive it (stdio, a microVM's port): sessions that follow on the
    /// same fd share `channel`, so their frames are written one at a time.
    init(readFD: Int32, writeFD: Int32, channel: ChannelWriteLock, context: AgentContext, mayProvision: Bool) {
        self.readFD = readFD
        self.writer = FrameWriter(fd: writeFD, channel: channel)
        self.context = context
        self.mayProvision = mayProvision
        self.ownsSocket = false
    }

    /// A session on a connected socket it owns: when the session ends it shuts the socket down,
    /// waits until no operation thread is writing to it, and closes it.
    public init(socket: Int32, context: AgentContext, mayProvision: Bool = false) {
        self.readFD = socket
        self.writer = FrameWriter(fd: socket)
        self.context = context
        self.mayProvision = mayProvision
        self.ownsSocket = true
    }

    /// Runs until the connection ends. Operation threads outlive the session (processes keep
    /// running), so the writer is retired before returning: their later frames are dropped, never
    /// written to an fd that may by then be closed and reused by another connection or a file.
    public func run() -> End {
        let end = readLoop()
        closeAllStreams()
        // A write blocked on a peer that stopped reading would hold the lock for ever: shutting
        // the socket down fails it at once.
        if ownsSocket { shutdown(readFD, Int32(SHUT_RDWR)) }
        writer.retire()
        if ownsSocket { close(readFD) }
        return end
    }

    private func readLoop() -> End {
        while true {
            guard let bytes = Posix.readSome(readFD, max: 128 * 1024), !bytes.isEmpty else { return .closed }
            decoder.append(bytes)
            do {
                while let frame = try decoder.next() {
                    if let end = try handle(frame) { return end }
                }
            } catch {
                return .violation(error)
            }
        }
    }

    private func handle(_ frame: Frame) throws(WireError) -> End? {
        framesSeen &+= 1
        if frame.kind == .provision {
            // The secret is accepted once per agent process, as the first frame of a session on the
            // host's own channel, before any hello: a later one could only come from someone else.
            guard mayProvision, framesSeen == 1, frame.stream == 0,
                  frame.payload.count == AgentAuthentication.secretLength, context.credentials.provision(frame.payload) else {
                throw WireError(.protocolViolation, "unexpected provision frame")
            }
            return nil
        }
        if frame.kind == .hello {
            let hello = try WireCoding.decode(Hello.self, from: frame.payload)
            guard hello.version >= WireVersion.minimumSupported else {
                throw WireError(.unsupportedVersion, "host speaks version \(hello.version)")
            }
            // A hello after a quiesce starts a new session on the same fd: forget the old streams.
            closeAllStreams()
            greeted = true
            hostVersion = hello.version
            writer.resume()
            let proof = hello.challenge.flatMap { context.credentials.proof(for: $0) }
            writer.send(.hello(Hello(agent: context.agentName, session: hello.session, proof: proof)))
            return nil
        }
        guard greeted else { throw WireError(.protocolViolation, "frame before hello") }
        switch frame.kind {
        case .hello:
            return nil
        case .quiesce:
            closeAllStreams()
            writer.sendAndPause(Frame(kind: .quiesced, stream: 0))
            greeted = false
            return nil
        case .open:
            guard frame.stream != 0 else { throw WireError(.protocolViolation, "open on stream 0") }
            let request = try WireCoding.decode(Request.self, from: frame.payload)
            let credit = hostVersion >= WireVersion.growingWindows ? WireLimits.agentStartWindow : WireLimits.initialWindow
            let stream = AgentStream(id: frame.stream, writer: writer, sendCredit: credit)
            let duplicate = lock.withLock { () -> Bool in
                if streams[frame.stream] != nil { return true }
                streams[frame.stream] = stream
                return false
            }
            if duplicate { throw WireError(.protocolViolation, "stream \(frame.stream) opened twice") }
            let started = startThread { [self] in
                Operations.run(request, on: stream, context: context)
                // Tell the host the operation is over and reads no more input, after its last frame.
                if finish(stream) { writer.send(.reset(stream.id, nil)) }
            }
            // No thread to run it (the workspace holds every one it may have): refused, not left open.
            if !started, finish(stream) { writer.send(.reset(stream.id, WireError(.io, "the agent could not start a thread"))) }
        case .data:
            guard frame.payload.count > 1 else { throw WireError(.protocolViolation, "empty data frame") }
            try lookup(frame.stream)?.deliver(.data(try frame.channel(), frame.dataBytes))
        case .eof:
            try lookup(frame.stream)?.deliver(.eof(try frame.channel()))
        case .window:
            try lookup(frame.stream)?.grant(try frame.windowIncrement())
        case .control:
            let control = try WireCoding.decode(Control.self, from: frame.payload)
            lookup(frame.stream)?.deliverControl(control)
        case .reset:
            if let stream = lookup(frame.stream) { finish(stream) }
        case .quiesced, .provision:
            throw WireError(.protocolViolation, "unexpected frame kind \(frame.kind)")
        }
        return nil
    }

    private func lookup(_ id: UInt32) -> AgentStream? {
        lock.withLock { streams[id] }
    }

    /// Closes the stream; true if it was still this session's (not reset by the host or quiesced).
    @discardableResult
    private func finish(_ stream: AgentStream) -> Bool {
        stream.close()
        return lock.withLock {
            guard streams[stream.id] === stream else { return false }
            streams[stream.id] = nil
            return true
        }
    }

    private func closeAllStreams() {
        let all = lock.withLock { () -> [AgentStream] in
            defer { streams.removeAll() }
            return Array(streams.values)
        }
        for stream in all { stream.close() }
    }
}

/// What every operation may need to know about the agent.
public struct AgentContext: Sendable {
    public var agentName: String
    /// Path of this executable, re-run as the spawn helper.
    public var executablePath: String
    public var startedAtNanos: UInt64
    /// Environment every process starts from.
    public var baseEnvironment: [String: String]
    public var defaultDirectory: String
    /// The per-boot secret the host provisions, shared by every session of this process.
    public let credentials = AgentCredentials()
    /// `hearth-sync`'s callers and the host's channel for them, shared by every session.
    public let sync = GuestSyncRelay()

    public init(agentName: String = "hearth-guest/\(WireVersion.current)", executablePath: String,
                baseEnvironment: [String: String] = AgentContext.defaultEnvironment,
                defaultDirectory: String = "/workspace") {
        self.agentName = agentName
        self.executablePath = executablePath
        self.startedAtNanos = monotonicNanos()
        self.baseEnvironment = baseEnvironment
        self.defaultDirectory = defaultDirectory
    }

    public static let defaultEnvironment: [String: String] = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "HOME": "/root",
    ]
}

/// The agent's copy of its per-boot secret: set once by the host's `provision` frame, kept only in
/// this process's memory (never in its environment, argv or a file), and used to answer challenges.
public final class AgentCredentials: @unchecked Sendable {
    private let lock = ConditionLock()
    private var secret: [UInt8]?

    public init() {}

    /// Stores `secret`; false if one is already set (a second provision is refused).
    func provision(_ secret: [UInt8]) -> Bool {
        lock.withLock {
            guard self.secret == nil else { return false }
            self.secret = secret
            return true
        }
    }

    /// The answer to a host's challenge, or nil while unprovisioned (the host then refuses us).
    func proof(for challenge: String) -> String? {
        guard let secret = lock.withLock({ secret }) else { return nil }
        return AgentAuthentication.proof(secret: secret, challenge: challenge)
    }

    public var isProvisioned: Bool { lock.withLock { secret != nil } }
}
