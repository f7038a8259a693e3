import NIOCore
import NIOPosix
import Synchronization

/// A question a workspace sent to its resolver address, with where to send the answer.
struct DNSRequest: Sendable {
    var workspace: String
    var bytes: [UInt8]
    var peer: SocketAddress
    var channel: any Channel
    /// Asked over TCP: the answer goes back on the connection, behind its two-byte length.
    var overTCP = false
}

/// The questions one workspace may ask, over UDP and TCP together: 200 at once, refilled at 100
/// per second.
final class DNSQuestionBudget: Sendable {
    private let bucket = Mutex<(tokens: Double, last: ContinuousClock.Instant)>((200, .now))
    static let burst = 200.0
    static let perSecond = 100.0

    func take() -> Bool {
        bucket.withLock { bucket -> Bool in
            let now = ContinuousClock.now
            let elapsed = now - bucket.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(Self.burst, bucket.tokens + seconds * Self.perSecond)
            bucket.last = now
            guard bucket.tokens >= 1 else { return false }
            bucket.tokens -= 1
            return true
        }
    }
}

/// Receives a workspace's queries on its gateway address, port 53, and hands them to the resolver's
/// bounded stream (the newest 512 are kept; a flood loses its oldest questions, never memory).
final class DNSInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let workspace: String
    /// The workspace's own address: the resolver answers nobody else (a LAN neighbour asking the
    /// gateway, or a spoofed source to reflect answers at), so its log is only the workspace's.
    let guest: IPv4
    let sink: AsyncStream<DNSRequest>.Continuation
    let budget: DNSQuestionBudget

    init(workspace: String, guest: IPv4, sink: AsyncStream<DNSRequest>.Continuation, budget: DNSQuestionBudget = DNSQuestionBudget()) {
        self.workspace = workspace
        self.guest = guest
        self.sink = sink
        self.budget = budget
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.data.readableBytes <= DNSMessage.maxSize else { return }
        guard envelope.remoteAddress.ipAddress == guest.description else { return }
        guard budget.take() else { return }
        sink.yield(DNSRequest(workspace: workspace, bytes: Array(envelope.data.readableBytesView), peer: envelope.remoteAddress,
                              channel: context.channel))
    }
}

enum DNSChannels {
    static func bind(_ address: IPv4, port: Int, handler: any ChannelHandler & Sendable) async throws -> any Channel {
        try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: DNSMessage.maxSize))
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) } }
            .bind(host: address.description, port: port).get()
    }

    static func send(_ bytes: [UInt8], to peer: SocketAddress, on channel: any Channel) {
        let envelope = AddressedEnvelope(remoteAddress: peer, data: channel.allocator.buffer(bytes: bytes))
        channel.writeAndFlush(envelope, promise: nil)
    }

    /// An answer to `request`, by the way it was asked.
    static func reply(_ bytes: [UInt8], to request: DNSRequest) {
        guard request.overTCP else { return send(bytes, to: request.peer, on: request.channel) }
        // A client that does not read its answers loses them rather than growing our buffer.
        guard request.channel.isWritable, bytes.count <= Int(UInt16.max) else { return }
        var buffer = request.channel.allocator.buffer(capacity: bytes.count + 2)
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
        request.channel.writeAndFlush(buffer, promise: nil)
    }
}

/// The resolver's one socket to the upstream server: each question gets a fresh random id, and
/// an answer is taken only from the upstream's address for an id still waiting. At most 1024
/// questions wait at once; each waits at most 2 s.
final class UpstreamDNS: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let server: SocketAddress
    private let pending = Mutex<[UInt16: CheckedContinuation<[UInt8]?, Never>]>([:])
    private let channel = Mutex<(any Channel)?>(nil)

    init(server: IPv4, port: Int) throws {
        self.server = try SocketAddress(ipAddress: server.description, port: port)
    }

    func start() async throws {
        let bound = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: DNSMessage.maxSize))
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(self) } }
            .bind(host: "0.0.0.0", port: 0).get()
        channel.withLock { $0 = bound }
    }

    func close() {
        channel.withLock { $0 }?.close(promise: nil)
        let waiting = pending.withLock { p -> [CheckedContinuation<[UInt8]?, Never>] in
            defer { p.removeAll() }
            return Array(p.values)
        }
        for continuation in waiting { continuation.resume(returning: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server, envelope.data.readableBytes >= 2 else { return }
        let bytes = Array(envelope.data.readableBytesView)
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        pending.withLock { $0.removeValue(forKey: id) }?.resume(returning: bytes)
    }

    /// Asks the upstream for `name`'s A records; nil on timeout, overload or shutdown.
    func ask(name: String) async -> [UInt8]? {
        guard let channel = channel.withLock({ $0 }) else { return nil }
        return await withCheckedContinuation { continuation in
            let id: UInt16? = pending.withLock { p in
                guard p.count < 1024 else { return nil }
                var id = UInt16.random(in: .min ... .max)
                while p[id] != nil { id = UInt16.random(in: .min ... .max) }
                p[id] = continuation
                return id
            }
            guard let id else { continuation.resume(returning: nil); return }
            DNSChannels.send(DNSMessage.query(id: id, name: name, type: DNSMessage.typeA), to: server, on: channel)
            channel.eventLoop.scheduleTask(in: .seconds(2)) { [self] in
                pending.withLock { $0.removeValue(forKey: id) }?.resume(returning: nil)
            }
        }
    }
}
