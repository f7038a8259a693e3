public import HearthCore
public import HearthWire
public import Logging
public import NIOCore
public import NIOPosix
public import Synchronization

/// The host's end of one agent channel.
///
/// The guest is untrusted: every frame is validated, every buffer is bounded by credit the host
/// granted, and any violation closes this connection alone and reports why through `onClose`.
public final class AgentConnection: Sendable {
    private struct State {
        var channel: (any Channel)?
        var streams: [UInt32: HostStream] = [:]
        var nextStream: UInt32 = 1
        var hello: CheckedContinuation<Hello, any Error>?
        var quiesce: CheckedContinuation<Void, any Error>?
        var closed: HearthError?
        var onClose: [@Sendable (HearthError?) -> Void] = []
        var peerHello: Hello?
    }

    private let state = Mutex(State())
    let traffic = Mutex<TrafficSink?>(nil)
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Connects to an agent over a connected stream socket (one end of a socketpair, a unix socket).
    /// Takes ownership of `fd`.
    public static func connect(socket fd: Int32, logger: Logger,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> AgentConnection {
        let connection = AgentConnection(logger: logger)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameByteDecoder(), maximumBufferSize: 2 * WireLimits.maxFramePayload),
                        MessageToByteHandler(FrameByteEncoder()),
                        AgentFrameHandler(connection: connection),
                    ])
                }
            }
            .withConnectedSocket(fd).get()
        connection.state.withLock { $0.channel = channel }
        return connection
    }

    /// Says hello and waits for the agent's answer, which must prove `secret` (the per-boot secret
    /// the host gave this agent process). `provision` hands the secret over first: only on the
    /// channel the host itself created for a freshly started agent (stdio, a booting microVM's port).
    /// An agent that cannot prove the secret, or is older than version 3, is refused and closed.
    public func handshake(secret: [UInt8], provision: Bool = false, timeout: Duration = .seconds(10)) async throws -> Hello {
        let session = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        var random = SystemRandomNumberGenerator()
        let challenge = AgentAuthentication.hex((0..<AgentAuthentication.challengeLength).map { _ in UInt8.random(in: 0...255, using: &random) })
        let hello: Hello = try await withDeadline(timeout, what: "agent handshake") {
            try await self.abortingOnCancel("agent handshake") { continuation in
                let failure: HearthError? = self.state.withLock { state in
                    if let closed = state.closed { return closed }
                    state.hello = continuation
                    return nil
                }
                if let failure {
                    continuation.resume(throwing: failure)
                    return
                }
                if provision { self.writeQuietly(.provision(secret)) }
                self.writeQuietly(.hello(Hello(agent: "hearth-host", session: session, challenge: challenge)))
            }
        }
        guard hello.version >= WireVersion.minimumAuthenticated else {
            let error = HearthError(.agentProtocol, "the workspace agent is too old to authenticate; restart the workspace",
                                    detail: "agent version \(hello.version)")
            abort(error)
            throw error
        }
        guard AgentAuthentication.verify(proof: hello.proof, secret: secret, challenge: challenge) else {
            logger.warning("agent refused: it did not prove the workspace's secret", metadata: ["agent.name": "\(hello.agent.prefix(64))"])
            let error = HearthError(.agentProtocol, "the workspace agent could not be authenticated",
                                    detail: "wrong or missing proof in the agent's hello")
            abort(error)
            throw error
        }
        state.withLock { $0.peerHello = hello }
        return hello
    }

    /// Asks the agent to stop writing, so a checkpoint holds no half-written frame.
    public func quiesce(timeout: Duration = .seconds(5)) async throws {
        try await withDeadline(timeout, what: "agent quiesce") {
            try await self.abortingOnCancel("agent quiesce") { (continuation: CheckedContinuation<Void, any Error>) in
                let failure: HearthError? = self.state.withLock { state in
                    if let closed = state.closed { return closed }
                    state.quiesce = continuation
                    return nil
                }
                if let failure {
                    continuation.resume(throwing: failure)
                    return
                }
                self.writeQuietly(Frame(kind: .quiesce, stream: 0))
            }
        }
    }

    /// Opens a stream for one request.
    /// `maxWindow`: the most the stream's agent → host window grows to (an agent of version 5;
    /// older ones keep `WireLimits.initialWindow`), which is what the stream holds when its
    /// reader stalls.
    public func open(_ request: Request, maxWindow: Int = WireLimits.initialWindow) async throws -> HostStream {
        let stream: HostStream = try state.withLock { state in
            if let closed = state.closed { throw closed }
            guard state.streams.count < Self.maxStreams else {
                throw HearthError(.conflict, "too many concurrent operations on this workspace")
            }
            let id = state.nextStream
            state.nextStream &+= 2
            // An agent of version 5 starts with the small window and is grown (`HostStream`).
            let window = (state.peerHello?.version ?? 0) >= WireVersion.growingWindows ? WireLimits.agentStartWindow : WireLimits.initialWindow
            let stream = HostStream(id: id, connection: self, receiveWindow: window,
                                    maxWindow: Swift.max(window, Swift.min(maxWindow, WireLimits.initialWindow)))
            state.streams[id] = stream
            return stream
        }
        try await write(.open(stream.id, request))
        return stream
    }

    /// Runs a request that answers with one `result`.
    public func call(_ request: Request, timeout: Duration = .seconds(30)) async throws -> Reply {
        let stream = try await open(request)
        defer { stream.close() }
        return try await withDeadline(timeout, what: "agent call") {
            for try await event in stream {
                switch event {
                case .control(.result(let reply)): return reply
                case .control(.failed(let error)): throw AgentError(error)
                default: continue
                }
            }
            throw HearthError(.agentUnavailable, "the workspace agent closed the operation")
        }
    }

    /// A wait on the agent that, if abandoned (timed out), closes the whole connection: an agent
    /// that does not answer a handshake or quiesce is broken.
    private func abortingOnCancel<T: Sendable>(_ what: String,
                                               _ body: (CheckedContinuation<T, any Error>) -> Void) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation(body)
        } onCancel: {
            self.abort(HearthError(.timeout, "the workspace agent did not answer", detail: what))
        }
    }

    /// Fails the connection with `reason` and closes its channel.
    public func abort(_ reason: HearthError) {
        fail(reason)
        state.withLock { $0.channel }?.close(promise: nil)
    }

    public var isClosed: Bool { state.withLock { $0.closed != nil } }
    public var peer: Hello? { state.withLock { $0.peerHello } }

    /// Registers a handler for the end of the connection: nil when closed in order, else the reason.
    public func onClose(_ handler: @escaping @Sendable (HearthError?) -> Void) {
        let already: HearthError?? = state.withLock { state in
            if state.closed != nil { return .some(state.closed) }
            state.onClose.append(handler)
            return .none
        }
        if let already { handler(already.map { $0.code == .agentUnavailable ? nil : $0 } ?? nil) }
    }

    public func close() {
        let channel = state.withLock { $0.channel }
        channel?.close(promise: nil)
        fail(nil)
    }

    static let maxStreams = WireLimits.maxStreams

    // MARK: Frames from the guest (on the event loop).

    func receive(_ frame: Frame) {
        counted(received: Frame.headerSize &+ frame.payload.count, sent: 0)
        do throws(WireError) {
            switch frame.kind {
            case .hello:
                let hello = try WireCoding.decode(Hello.self, from: frame.payload)
                let waiter = state.withLock { s -> CheckedContinuation<Hello, any Error>? in
                    defer { s.hello = nil }
                    return s.hello
                }
                // A hello nobody asked for costs the host a JSON decode and means nothing.
                guard let waiter else { throw WireError(.protocolViolation, "unsolicited hello") }
                waiter.resume(returning: hello)
            case .quiesced:
                let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                    defer { s.quiesce = nil }
                    return s.quiesce
                }
                guard let waiter else { throw WireError(.protocolViolation, "unsolicited quiesced") }
                waiter.resume()
            case .open, .quiesce, .provision:
                throw WireError(.protocolViolation, "guest sent a host-only frame (\(frame.kind))")
            case .data, .eof, .control, .window, .reset:
                guard frame.stream != 0 else { throw WireError(.protocolViolation, "stream frame on stream 0") }
                // Frames for streams the host already closed are dropped.
                let stream = state.withLock { $0.streams[frame.stream] }
                try stream?.deliver(frame)
            }
        } catch {
            logger.warning("agent protocol violation", metadata: ["agent.error": "\(error)"])
            fail(Self.violation(error))
            state.withLock { $0.channel }?.close(promise: nil)
        }
    }

    /// Ends the connection. `reason` nil means the peer closed in order.
    func fail(_ reason: HearthError?) {
        let closedError = reason ?? HearthError(.agentUnavailable, "the workspace agent is not connected")
        let (streams, hello, quiesce, handlers): ([HostStream], CheckedContinuation<Hello, any Error>?,
                                                   CheckedContinuation<Void, any Error>?, [@Sendable (HearthError?) -> Void]) =
            state.withLock { s in
                guard s.closed == nil else { return ([], nil, nil, []) }
                s.closed = closedError
                defer {
                    s.streams.removeAll()
                    s.hello = nil
                    s.quiesce = nil
                    s.onClose.removeAll()
                }
                return (Array(s.streams.values), s.hello, s.quiesce, s.onClose)
            }
        for stream in streams { stream.finish(throwing: closedError) }
        hello?.resume(throwing: closedError)
        quiesce?.resume(throwing: closedError)
        for handler in handlers { handler(reason) }
    }

    static func violation(_ error: any Error) -> HearthError {
        HearthError(.agentProtocol, "the workspace agent sent malformed data", detail: "\(error)")
    }

    // MARK: Used by streams.

    func write(_ frame: Frame) async throws {
        let channel: any Channel = try state.withLock { s in
            if let closed = s.closed { throw closed }
            guard let channel = s.channel else { throw HearthError(.agentUnavailable, "the workspace agent is not connected") }
            return channel
        }
        counted(received: 0, sent: Frame.headerSize &+ frame.payload.count)
        do {
            try await channel.writeAndFlush(frame).get()
        } catch {
            throw HearthError(.agentUnavailable, "the workspace agent is not connected", detail: "\(error)")
        }
    }

    func writeQuietly(_ frame: Frame) {
        counted(received: 0, sent: Frame.headerSize &+ frame.payload.count)
        state.withLock { $0.channel }?.writeAndFlush(frame, promise: nil)
    }

    /// Writes `frame` without waiting; `done` runs once it has been written or has failed.
    func writeNotifying(_ frame: Frame, _ done: @escaping @Sendable () -> Void) {
        guard let channel = state.withLock({ $0.closed == nil ? $0.channel : nil }) else {
            done()
            return
        }
        counted(received: 0, sent: Frame.headerSize &+ frame.payload.count)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in done() }
        channel.writeAndFlush(frame, promise: promise)
    }

    func remove(_ stream: HostStream) {
        state.withLock { s in
            if s.streams[stream.id] === stream { s.streams[stream.id] = nil }
        }
    }
}

/// An operation the agent refused, with the agent's code (not_found, permission_denied, …).
public struct AgentError: Error, Sendable, CustomStringConvertible {
    public var wire: WireError
    public init(_ wire: WireError) { self.wire = wire }
    public var description: String { wire.description }
}

/// Runs `body`, failing with `.timeout` when `duration` passes first.
public func withDeadline<T: Sendable>(_ duration: Duration, what: String,
                                      _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: duration)
            throw HearthError(.timeout, "\(what) timed out after \(duration)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
