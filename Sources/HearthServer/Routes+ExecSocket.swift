import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// `GET /v1/workspaces/{ws}/exec/ws`: an interactive process. The first message is the JSON
/// `ExecBody`; after it both directions carry exec-stream frames as binary messages.
enum ExecSocket {
    static func register(on router: Router<HearthContext>, manager: WorkspaceManager, auditor: Auditor) {
        router.ws("/v1/workspaces/:ws/exec/ws") { inbound, outbound, context in
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            guard case .text(let text)? = try await messages.next(),
                  let body = try? API.decoder().decode(API.ExecBody.self, from: Data(text.utf8)) else {
                try await outbound.write(.binary(ByteBuffer(bytes: ExecStream.json(.error, API.ErrorBody(code: "invalid_argument", message: "the first message must be an exec request")))))
                return
            }
            let stream: ExecSession
            do {
                _ = try context.requestContext.writer()
                let workspace = try await context.requestContext.workspace(manager)
                stream = try await auditor.around(context.requestContext, "exec", target: workspace.id, detail: ExecRoutes.commandLine(body.argv)) {
                    try await manager.agent(for: workspace).exec(try ExecRoutes.request(body))
                }
            } catch {
                let mapped = HearthError.from(error)
                try await outbound.write(.binary(ByteBuffer(bytes: ExecStream.json(.error, API.ErrorBody(code: mapped.code.rawValue, message: mapped.message)))))
                return
            }
            defer { stream.close() }
            // Only the input task reads messages from here on.
            let remaining = IteratorBox(messages)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await ExecRoutes.relay(stream) { bytes in try await outbound.write(.binary(ByteBuffer(bytes: bytes))) }
                }
                group.addTask {
                    var parser = ExecStream.Parser(maxPayload: ExecSocket.maxClientFrame)
                    while let message = try await remaining.iterator.next() {
                        guard case .binary(let buffer) = message else { continue }
                        parser.append(buffer.readableBytesView)
                        while let (kind, payload) = try parser.next() {
                            switch kind {
                            // An empty write is nothing to forward, and would cost the agent a frame.
                            case .stdin: if !payload.isEmpty { try await stream.send(payload) }
                            case .stdinEOF: try await stream.sendEOF()
                            case .resize:
                                if let size = try? JSONDecoder().decode(API.PTY.self, from: Data(payload)), let pty = ExecSocket.ptySize(size) {
                                    try await stream.resize(pty)
                                }
                            case .signal:
                                if let signal = ExecSocket.signal(payload) { try await stream.signal(signal) }
                            default: continue
                            }
                        }
                    }
                }
                // The process's exit ends the session; the client's input loop is then cancelled.
                try await group.next()
                group.cancelAll()
            }
        }
    }
}

extension ExecSocket {
    /// The largest frame a client may send: stdin comes in pieces, never this large.
    static let maxClientFrame = 1 << 20

    /// A client's resize, if it is a size a terminal can have.
    static func ptySize(_ size: API.PTY) -> TerminalSize? {
        guard (1...1000).contains(size.rows), (1...1000).contains(size.cols) else { return nil }
        return TerminalSize(rows: size.rows, cols: size.cols)
    }

    /// A client's signal number, if it is one (1...64); anything else is ignored, not forwarded.
    static func signal(_ payload: [UInt8]) -> Int32? {
        guard payload.count <= 8, let signal = Int32(String(decoding: payload, as: UTF8.self)), (1...64).contains(signal) else { return nil }
        return signal
    }
}

private final class IteratorBox: @unchecked Sendable {
    var iterator: WebSocketInboundMessageStream.AsyncIterator
    init(_ iterator: WebSocketInboundMessageStream.AsyncIterator) { self.iterator = iterator }
}
