public import Foundation
public import HearthAPI
public import HTTPTypes
public import HummingbirdWSClient
public import Logging
public import NIOCore
import NIOWebSocket
import Synchronization

extension HearthClient {
    /// Connects a WebSocket to `path` on the server, with the bearer token, and runs `handler` on it.
    public func webSocket(_ path: String, handler: @escaping WebSocketDataHandler<WebSocketClient.Context>) async throws {
        let url = baseURL.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://") + path
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var logger = Logger(label: "hearth.client")
        logger.logLevel = .critical
        _ = try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers),
                                              logger: logger, handler: handler)
    }

    /// An interactive exec over the WebSocket: `input` is called with a writer for stdin,
    /// resize and signal frames; `onFrame` receives output. Returns when the process exits.
    public func interactive(_ ws: String, _ body: API.ExecBody,
                            input: @escaping @Sendable (InteractiveWriter) async throws -> Void,
                            onFrame: @escaping @Sendable (ExecStream.Kind, [UInt8]) async throws -> Void) async throws {
        let request = try String(decoding: API.encoder().encode(body), as: UTF8.self)
        try await webSocket("/v1/workspaces/\(escape(ws))/exec/ws") { inbound, outbound, _ in
            try await outbound.write(.text(request))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var parser = ExecStream.Parser()
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .binary(let buffer) = message else { continue }
                        parser.append(buffer.readableBytesView)
                        while let (kind, payload) = try parser.next() {
                            try await onFrame(kind, payload)
                            if kind == .exit || kind == .error { return }
                        }
                    }
                }
                group.addTask {
                    try await input(InteractiveWriter { bytes in try await outbound.write(.binary(ByteBuffer(bytes: bytes))) })
                    try await Task.sleep(for: .seconds(86_400 * 365))
                }
                try await group.next()
                group.cancelAll()
            }
            try? await outbound.close(.normalClosure, reason: nil)
        }
    }
}

/// Sends client frames on an interactive exec.
public struct InteractiveWriter: Sendable {
    let write: @Sendable ([UInt8]) async throws -> Void
    public func stdin(_ bytes: [UInt8]) async throws { try await write(ExecStream.frame(.stdin, bytes)) }
    public func closeStdin() async throws { try await write(ExecStream.frame(.stdinEOF, [])) }
    public func resize(rows: UInt16, cols: UInt16) async throws { try await write(ExecStream.json(.resize, API.PTY(rows: rows, cols: cols))) }
    public func signal(_ number: Int32) async throws { try await write(ExecStream.frame(.signal, Array(String(number).utf8))) }
}

extension HearthClient {
    /// One TCP connection to `port` on the workspace's loopback, over the tunnel WebSocket.
    /// `send` writes the local side's bytes (and `finish()` for its end of stream); `receive` gets
    /// the guest's. Returns when the guest side closes or `send` throws.
    public func tunnel(_ ws: String, port: Int, send: @escaping @Sendable (TunnelWriter) async throws -> Void,
                       receive: @escaping @Sendable (ByteBuffer) async throws -> Void) async throws {
        let outcome = TunnelOutcome()
        try await webSocket("/v1/workspaces/\(escape(ws))/ports/\(port)/tunnel") { inbound, outbound, _ in
            // The client speaks first, so nothing the server sends can race the upgrade.
            try await outbound.write(.text("open"))
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            guard case .text(let first)? = try await messages.next() else {
                outcome.set(Failure(status: 0, code: "unreachable", message: "the server closed the tunnel before it opened"))
                return
            }
            if let error = try? API.decoder().decode(API.ErrorBody.self, from: Data(first.utf8)) {
                outcome.set(Failure(status: 0, code: error.error.code, message: error.error.message))
                // The server closes right after an error. Its close frame must be read here: left
                // unread in the inbound stream, the client's own close handshake waited for it
                // forever (a tunnel to an unknown workspace hung under load).
                while try await messages.next() != nil {}
                return
            }
            let remaining = TunnelMessages(messages)
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        while let message = try await remaining.next() {
                            if case .binary(let buffer) = message, buffer.readableBytes > 0 { try await receive(buffer) }
                        }
                    }
                    group.addTask {
                        try await send(TunnelWriter(sink: { buffer in try await outbound.write(.binary(buffer)) }))
                        // The guest may still answer after the local side finished.
                        try await Task.sleep(for: .seconds(86_400 * 365))
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch is CancellationError {
            } catch {
                outcome.set(error)
            }
            try? await outbound.close(.normalClosure, reason: nil)
        }
        if let error = outcome.error { throw error }
    }
}

/// Writes the local side of a tunnel.
public struct TunnelWriter: Sendable {
    let sink: @Sendable (ByteBuffer) async throws -> Void
    public func write(_ buffer: ByteBuffer) async throws {
        // An empty message is the end-of-stream marker, never data.
        if buffer.readableBytes > 0 { try await sink(buffer) }
    }
    /// The local side's end of stream: the guest's socket is shut down for writing.
    public func finish() async throws { try await sink(ByteBuffer()) }
}

private final class TunnelOutcome: Sendable {
    private let stored = Mutex<(any Error)?>(nil)
    func set(_ error: any Error) { stored.withLock { if $0 == nil { $0 = error } } }
    var error: (any Error)? { stored.withLock { $0 } }
}

private final class TunnelMessages: @unchecked Sendable {
    // Only the receiving task iterates after the first message.
    var iterator: WebSocketInboundMessageStream.AsyncIterator
    init(_ iterator: WebSocketInboundMessageStream.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> WebSocketMessage? { try await iterator.next() }
}
