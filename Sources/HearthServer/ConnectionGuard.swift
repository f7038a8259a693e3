import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// Open connections per client address, shared by every connection of a server.
final class ConnectionCounts: Sendable {
    let maxPerAddress: Int
    private let counts = Mutex<[String: Int]>([:])

    init(maxPerAddress: Int) { self.maxPerAddress = maxPerAddress }

    func acquire(_ address: String) -> Bool {
        counts.withLock { counts in
            let open = counts[address, default: 0]
            guard open < maxPerAddress else { return false }
            counts[address] = open &+ 1
            return true
        }
    }

    func release(_ address: String) {
        counts.withLock { counts in
            let open = counts[address, default: 0] &- 1
            counts[address] = open > 0 ? open : nil
        }
    }

    func open(_ address: String) -> Int { counts.withLock { $0[address, default: 0] } }
}

/// The first handler of every connection, ahead of HTTP parsing:
/// - a connection past its address's cap is closed at once;
/// - a connection whose first request head (up to the blank line) has not arrived within
///   `headerTimeout` is closed, so silent and slowly dripping sockets do not pile up. Later
///   requests on the connection are timed by Hummingbird's idle handler (`idleTimeout`).
final class ConnectionGuardHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let counts: ConnectionCounts
    let exempt: @Sendable (String) -> Bool
    let headerTimeout: TimeAmount
    let logger: Logger
    private var address: String?
    private var started = false
    private var headComplete = false
    /// The last bytes seen, to find "\r\n\r\n" across reads.
    private var tail: UInt32 = 0
    private var timer: Scheduled<Void>?

    init(counts: ConnectionCounts, exempt: @escaping @Sendable (String) -> Bool, headerTimeout: TimeAmount, logger: Logger) {
        self.counts = counts
        self.exempt = exempt
        self.headerTimeout = headerTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let peer = context.channel.remoteAddress?.ipAddress ?? ""
        if !exempt(peer) {
            guard counts.acquire(peer) else {
                logger.notice("connection refused: too many from one address",
                              metadata: ["client.address": "\(peer)", "connection.limit": "\(counts.maxPerAddress)"])
                context.close(promise: nil)
                return
            }
            address = peer
        }
        let loop = context.eventLoop.assumeIsolatedUnsafeUnchecked()
        timer = loop.scheduleTask(in: headerTimeout) { [self] in
            guard !headComplete else { return }
            logger.notice("connection closed: no request head in time", metadata: ["client.address": "\(peer)"])
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !headComplete {
            let buffer = unwrapInboundIn(data)
            for byte in buffer.readableBytesView {
                tail = tail << 8 | UInt32(byte)
                if tail == 0x0D0A_0D0A {
                    headComplete = true
                    timer?.cancel()
                    timer = nil
                    break
                }
            }
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { end() }

    private func end() {
        timer?.cancel()
        timer = nil
        if let address {
            counts.release(address)
            self.address = nil
        }
    }
}

/// Puts a `ConnectionGuardHandler` in front of another child channel's setup.
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let counts: ConnectionCounts
    let exempt: @Sendable (String) -> Bool
    let headerTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                ConnectionGuardHandler(counts: counts, exempt: exempt, headerTimeout: headerTimeout, logger: logger), position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
