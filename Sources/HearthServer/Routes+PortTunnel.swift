import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// `GET /v1/workspaces/{ws}/ports/{port}/tunnel`: one TCP connection to a port on the workspace's
/// loopback, carried by the agent. The guest's network stays closed.
///
/// The client speaks first: one text message (`open`). The server answers with a text message,
/// `{"connected":true,"port":N}` or `{"error":{…}}` (then closes). After that, binary messages
/// carry the connection's bytes both ways. An empty binary message from the client half-closes the
/// guest side; the guest's end of stream, or either side closing the WebSocket, ends the tunnel.
///
/// Why the client speaks first: frames the server sent straight after the upgrade (an error for an
/// unknown workspace is immediate) could arrive with the 101 response, before the client's
/// WebSocket handler was in place, and were lost, close frame included: the client hung.
enum PortTunnelSocket {
    static func register(on router: Router<HearthContext>, manager: WorkspaceManager) {
        router.ws("/v1/workspaces/:ws/ports/:port/tunnel") { inbound, outbound, context in
            let messages = InboundMessages(inbound.messages(maxSize: 1 << 20).makeAsyncIterator())
            guard case .text? = try await messages.next() else { return }
            let stream: TunnelStream
            do {
                guard let port = context.requestContext.parameters.get("port", as: UInt16.self), port > 0 else {
                    throw HearthError(.invalidArgument, "the port must be a number between 1 and 65535")
                }
                _ = try context.requestContext.writer()
                let workspace = try await context.requestContext.workspace(manager)
                stream = try await manager.agent(for: workspace).tunnel(port: port)
                let opened = try API.encoder().encode(API.TunnelOpened(connected: true, port: Int(port)))
                try await outbound.write(.text(String(decoding: opened, as: UTF8.self)))
            } catch {
                let mapped = HearthError.from(error)
                let body = try API.encoder().encode(API.ErrorBody(code: mapped.code.rawValue, message: mapped.message))
                try await outbound.write(.text(String(decoding: body, as: UTF8.self)))
                return
            }
            defer { stream.close() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await bytes in stream { try await outbound.write(.binary(ByteBuffer(bytes: bytes))) }
                }
                group.addTask {
                    // A WebSocket cannot half-close, so an empty binary message stands for the
                    // client's end of stream; the guest may still answer after it.
                    while let message = try await messages.next() {
                        guard case .binary(let buffer) = message else { continue }
                        if buffer.readableBytes == 0 {
                            try await stream.sendEOF()
                        } else {
                            try await stream.send(buffer.readableBytesView)
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}

/// The one iterator of a WebSocket's inbound messages, shared by the opening read and, after it,
/// the task that forwards the client's bytes (an inbound stream can be iterated only once).
final class InboundMessages: @unchecked Sendable {
    // Used by one task at a time: the handler, then only its forwarding task.
    private var iterator: WebSocketInboundMessageStream.AsyncIterator
    init(_ iterator: WebSocketInboundMessageStream.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> WebSocketMessage? { try await iterator.next() }
}
