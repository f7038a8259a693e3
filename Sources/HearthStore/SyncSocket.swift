public import Foundation
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

#if canImport(Glibc)
public import Glibc
#endif

/// The durability barrier's local socket. A client sends `sync\n`; the reply, once the generation
/// holding everything written before the request is published, is `ok GENERATION\n`, or
/// `error CODE MESSAGE\n`. One request per connection, so a client that dies mid-wait costs nothing.
public enum SyncSocket {
    /// Serves `path` (mode 0600: only the watcher's user may ask it to commit) until the channel closes.
    public static func serve(path: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             sync: @escaping @Sendable () async throws -> UInt64) async throws -> any Channel {
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(RequestHandler(sync: sync)) }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
        chmod(path, 0o600)
        return channel
    }

    /// Asks the watcher behind `path` for a sync and returns the generation it published.
    public static func request(path: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> UInt64 {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        } catch {
            throw StoreError(.unavailable, "no watcher is serving \(path)", detail: "\(error)")
        }
        let line: String = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "sync\n"))
            var reply = ByteBuffer()
            for try await var buffer in inbound {
                reply.writeBuffer(&buffer)
                if reply.readableBytesView.contains(10) { break }
            }
            return String(buffer: reply).split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        }
        let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
        if parts.first == "ok", parts.count == 2, let generation = UInt64(parts[1]) { return generation }
        if parts.first == "error", parts.count >= 2 {
            throw StoreError(StoreError.Code(rawValue: parts[1]), parts.count > 2 ? parts[2] : "the sync failed")
        }
        if line.isEmpty { throw StoreError(.unavailable, "the watcher closed \(path) without answering") }
        throw StoreError(.io, "the watcher sent an unexpected reply: \(line.prefix(80))")
    }

    final class RequestHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let sync: @Sendable () async throws -> UInt64

        init(sync: @escaping @Sendable () async throws -> UInt64) { self.sync = sync }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            // The request is one short line; anything else is answered and the connection closed.
            let text = buffer.readString(length: buffer.readableBytes) ?? ""
            guard text.hasPrefix("sync") else {
                reply(context, "error invalid_argument the only request is sync\n")
                return
            }
            let sync = self.sync
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                let line: String
                do { line = "ok \(try await sync())\n" } catch let error as StoreError {
                    line = "error \(error.code.rawValue) \(error.message.replacingOccurrences(of: "\n", with: " "))\n"
                } catch {
                    line = "error io \(error)\n"
                }
                eventLoop.execute { let (handler, context) = loopBound.value; handler.reply(context, line) }
            }
        }

        private func reply(_ context: ChannelHandlerContext, _ line: String) {
            let buffer = context.channel.allocator.buffer(string: line)
            let channel = context.channel
            context.writeAndFlush(NIOAny(buffer)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// Serves the sync socket for as long as the service group runs; on shutdown it stops taking
/// requests and removes the socket file, before the watcher drains.
public struct SyncSocketService: Service {
    public let path: String
    let sync: @Sendable () async throws -> UInt64

    public init(path: String, sync: @escaping @Sendable () async throws -> UInt64) {
        self.path = path
        self.sync = sync
    }

    public func run() async throws {
        let channel = try await SyncSocket.serve(path: path, sync: sync)
        // Closed by a graceful shutdown, or by cancellation when the group stops because the
        // watcher failed (fenced): waiting on the close future alone would hang the process.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await channel.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        unlink(path)
    }
}
