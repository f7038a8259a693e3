import NIOCore
import NIOPosix
import Synchronization

/// A workspace's resolver: the same questions over UDP and over TCP (RFC 7766: a client may
/// always ask over TCP, and some always do), on its gateway address, port 53, with one question
/// budget for both.
struct ResolverChannels: Sendable {
    var udp: any Channel
    var tcp: any Channel
    /// The TCP connections open now, closed with the listener.
    var connections: DNSTCPConnections

    static func bind(_ gateway: IPv4, workspace: String, guest: IPv4, sink: AsyncStream<DNSRequest>.Continuation) async throws -> ResolverChannels {
        let budget = DNSQuestionBudget()
        let connections = DNSTCPConnections()
        let udp = try await DNSChannels.bind(gateway, port: 53, handler: DNSInboundHandler(workspace: workspace, guest: guest, sink: sink, budget: budget))
        do {
            let tcp = try await DNSChannels.bindTCP(gateway, port: 53, workspace: workspace, guest: guest, sink: sink, budget: budget,
                                                    connections: connections)
            return ResolverChannels(udp: udp, tcp: tcp, connections: connections)
        } catch {
            try? await udp.close()
            throw error
        }
    }

    /// Closes both listeners and every TCP connection still open.
    func close() async {
        try? await udp.close()
        try? await tcp.close()
        for channel in connections.closeAll() { try? await channel.close() }
    }
}

/// A workspace's open resolver connections: at most `tcpConnectionsPerWorkspace`.
final class DNSTCPConnections: Sendable {
    private let state = Mutex<(open: [ObjectIdentifier: any Channel], closed: Bool)>(([:], false))

    /// Admits `channel` if there is room and the resolver is not closing; it leaves the set when
    /// it closes.
    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLock { state -> Bool in
            guard !state.closed, state.open.count < DNSChannels.tcpConnectionsPerWorkspace else { return false }
            state.open[id] = channel
            return true
        }
        if admitted { channel.closeFuture.whenComplete { [self] _ in _ = state.withLock { $0.open.removeValue(forKey: id) } } }
        return admitted
    }

    /// Every connection open now; none is admitted after.
    func closeAll() -> [any Channel] { state.withLock { $0.closed = true; return Array($0.open.values) } }
}

extension DNSChannels {
    /// At most this many TCP connections per workspace at once; more are closed on arrival.
    static let tcpConnectionsPerWorkspace = 16
    /// A connection that has sent no question for this long is closed.
    static let tcpIdleTimeout = TimeAmount.seconds(10)

    static func bindTCP(_ address: IPv4, port: Int, workspace: String, guest: IPv4, sink: AsyncStream<DNSRequest>.Continuation,
                        budget: DNSQuestionBudget, connections: DNSTCPConnections) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 16)
            .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: DNSMessage.maxSize + 2))
            .childChannelInitializer { channel in
                // Only the workspace's own address, and a bounded number of connections.
                guard channel.remoteAddress?.ipAddress == guest.description, connections.admit(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: tcpIdleTimeout))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(DNSTCPQuestionHandler(workspace: workspace, sink: sink, budget: budget))
                }
            }
            .bind(host: address.description, port: port).get()
    }
}

/// Two-byte length, then the message (RFC 1035 4.2.2). A length over `DNSMessage.maxSize` ends the
/// connection, so no connection buffers more than one such message.
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    struct Oversized: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard Int(length) <= DNSMessage.maxSize else { throw Oversized() }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        let message = buffer.readBytes(length: Int(length)) ?? []
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Hands each question to the resolver's bounded stream, within the workspace's budget; closes
/// the connection when it idles or sends something that is not a framed message.
final class DNSTCPQuestionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = [UInt8]
    let workspace: String
    let sink: AsyncStream<DNSRequest>.Continuation
    let budget: DNSQuestionBudget

    init(workspace: String, sink: AsyncStream<DNSRequest>.Continuation, budget: DNSQuestionBudget) {
        self.workspace = workspace
        self.sink = sink
        self.budget = budget
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let peer = context.channel.remoteAddress, budget.take() else { return }
        sink.yield(DNSRequest(workspace: workspace, bytes: bytes, peer: peer, channel: context.channel, overTCP: true))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
