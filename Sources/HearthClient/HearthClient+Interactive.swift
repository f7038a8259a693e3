import Foundation
import HearthAPI
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore

extension HearthClient {
    /// An interactive exec over the WebSocket: `input` is called with a writer for stdin,
    /// resize and signal frames; `onFrame` receives output. Returns when the process exits.
    public func interactive(_ ws: String, _ body: API.ExecBody,
                            input: @escaping @Sendable (InteractiveWriter) async throws -> Void,
                            onFrame: @escaping @Sendable (ExecStream.Kind, [UInt8]) async throws -> Void) async throws {
        let wsURL = baseURL.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://")
            + "/v1/workspaces/\(escape(ws))/exec/ws"
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        let request = try String(decoding: API.encoder().encode(body), as: UTF8.self)
        var logger = Logger(label: "hearth.client")
        logger.logLevel = .critical
        try await WebSocketClient.connect(url: wsURL, configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers),
                                          logger: logger) { inbound, outbound, _ in
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
