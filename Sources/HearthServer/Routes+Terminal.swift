import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthRuntime
import HearthWire
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// `GET /v1/workspaces/{ws}/ws`: one WebSocket per open workspace page carrying all of its
/// terminals.
///
/// The client speaks first (as on the tunnel, so nothing the server says can race the upgrade).
/// Client → server, text JSON: `{"type":"list"}`, `{"type":"open","cols","rows"}`,
/// `{"type":"attach","id"}`, `{"type":"input","id","data"}`, `{"type":"resize","id","cols","rows"}`,
/// `{"type":"ack","id","bytes"}`, `{"type":"close","id"}`.
/// Server → client: text JSON `terminals`, `opened`, `exit`, `error`; and binary messages of a
/// 4-byte big-endian terminal id followed by output bytes. The client acknowledges the output
/// bytes it has drawn; see `Terminal` for the flow control.
enum TerminalSocket {
    struct ClientMessage: Decodable {
        var type: String
        var id: Int?
        var data: String?
        var cols: Int?
        var rows: Int?
        var bytes: UInt64?
    }

    static func register(on router: Router<HearthContext>, manager: WorkspaceManager, terminals: TerminalHub, auditor: Auditor) {
        router.ws("/v1/workspaces/:ws/ws") { inbound, outbound, context in
            let session = TerminalConnection(manager: manager, hub: terminals, auditor: auditor, context: context.requestContext,
                                             outbound: outbound)
            do {
                try await session.run(inbound.messages(maxSize: 1 << 20))
            } catch {
                await session.sendError(nil, HearthError.from(error))
            }
            await session.detachAll()
        }
    }
}

/// One browser connection's view of a workspace's terminals.
actor TerminalConnection {
    let manager: WorkspaceManager
    let hub: TerminalHub
    let auditor: Auditor
    let context: HearthContext
    let outbound: WebSocketOutboundWriter
    var workspaceID: String?
    /// Terminal id → (terminal, this connection's client number there, the task forwarding its output).
    var attached: [Int: (Terminal, Int, Task<Void, Never>)] = [:]

    init(manager: WorkspaceManager, hub: TerminalHub, auditor: Auditor, context: HearthContext, outbound: WebSocketOutboundWriter) {
        self.manager = manager
        self.hub = hub
        self.auditor = auditor
        self.context = context
        self.outbound = outbound
    }

    func run(_ messages: WebSocketInboundMessageStream) async throws {
        let id = try await context.workspaceID(manager)
        workspaceID = id
        for try await message in messages {
            guard case .text(let text) = message,
                  let request = try? JSONDecoder().decode(TerminalSocket.ClientMessage.self, from: Data(text.utf8)) else {
                await sendError(nil, HearthError(.invalidArgument, "messages are JSON text"))
                continue
            }
            do {
                try await handle(request, workspaceID: id)
            } catch {
                await sendError(request.id, HearthError.from(error))
            }
        }
    }

    func handle(_ request: TerminalSocket.ClientMessage, workspaceID id: String) async throws {
        switch request.type {
        case "list":
            await hub.prune(workspaceID: id)
            var list: [[String: Int]] = []
            for terminal in await hub.list(workspaceID: id) { list.append(["id": terminal.id]) }
            try await sendJSON(["type": AnyEncodable("terminals"), "terminals": AnyEncodable(list)])
        case "open":
            _ = try context.writer()
            let size = PTYSize(rows: UInt16(clamping: request.rows ?? 24), cols: UInt16(clamping: request.cols ?? 80))
            let exec = ExecRequest(argv: ["/bin/sh", "-c", "if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi"],
                                   env: ["TERM": "xterm-256color"], cwd: "/workspace", user: nil, timeoutMs: nil, pty: size)
            let terminal: Terminal
            do {
                let stream = try await manager.openStream(id, .exec(exec))
                terminal = try await hub.open(workspaceID: id, stream: stream)
                auditor.record(context, "terminal.open", target: id, detail: "terminal \(terminal.id)")
            } catch {
                auditor.record(context, "terminal.open", target: id, result: HearthError.from(error).code.rawValue)
                throw error
            }
            try await sendJSON(["type": AnyEncodable("opened"), "id": AnyEncodable(terminal.id)])
            try await attach(terminal)
        case "attach":
            guard let terminal = await hub.terminal(request.id ?? 0, workspaceID: id) else {
                throw HearthError(.notFound, "no terminal \(request.id ?? 0)")
            }
            try await sendJSON(["type": AnyEncodable("attached"), "id": AnyEncodable(terminal.id)])
            try await attach(terminal)
        case "input":
            _ = try context.writer()
            guard let (terminal, _, _) = attached[request.id ?? 0] else { throw HearthError(.notFound, "terminal \(request.id ?? 0) is not attached") }
            try await terminal.input(Array((request.data ?? "").utf8))
        case "resize":
            _ = try context.writer()
            // Any terminal of this workspace, attached here or not: a page sizes its terminals
            // while it is still attaching them.
            guard let terminal = await hub.terminal(request.id ?? 0, workspaceID: id) else { return }
            try await terminal.resize(rows: request.rows ?? 24, cols: request.cols ?? 80)
        case "ack":
            guard let (terminal, client, _) = attached[request.id ?? 0] else { return }
            await terminal.acknowledge(client, bytes: request.bytes ?? 0)
        case "close":
            _ = try context.writer()
            let number = request.id ?? 0
            guard let terminal = await hub.remove(number, workspaceID: id) else { throw HearthError(.notFound, "no terminal \(number)") }
            // Closing reports the exit to every attached client, this one included; its forwarding
            // task then ends by itself.
            await terminal.close()
            attached.removeValue(forKey: number)
            auditor.record(context, "terminal.close", target: id, detail: "terminal \(number)")
        default:
            throw HearthError(.invalidArgument, "unknown message type \(request.type)")
        }
    }

    func attach(_ terminal: Terminal) async throws {
        if let (old, client, task) = attached.removeValue(forKey: terminal.id) {
            task.cancel()
            await old.detach(client)
        }
        let (client, output) = await terminal.attach()
        let outbound = self.outbound
        let number = terminal.id
        let task = Task {
            var prefix = ByteBuffer()
            prefix.writeInteger(UInt32(number))
            for await event in output {
                switch event {
                case .data(let bytes):
                    var buffer = ByteBuffer()
                    buffer.reserveCapacity(4 + bytes.count)
                    buffer.writeInteger(UInt32(number))
                    buffer.writeBytes(bytes)
                    try? await outbound.write(.binary(buffer))
                case .exited(let status, let error):
                    var message: [String: AnyEncodable] = ["type": AnyEncodable("exit"), "id": AnyEncodable(number), "code": AnyEncodable(status.code)]
                    if let error { message["message"] = AnyEncodable(error) }
                    if let data = try? JSONEncoder().encode(message) { try? await outbound.write(.text(String(decoding: data, as: UTF8.self))) }
                }
            }
        }
        attached[terminal.id] = (terminal, client, task)
    }

    /// The connection is gone; its terminals keep running for the next one.
    func detachAll() async {
        for (terminal, client, task) in attached.values {
            task.cancel()
            await terminal.detach(client)
        }
        attached.removeAll()
    }

    func sendError(_ id: Int?, _ error: HearthError) async {
        var message: [String: AnyEncodable] = ["type": AnyEncodable("error"), "code": AnyEncodable(error.code.rawValue),
                                               "message": AnyEncodable(error.message)]
        if let id { message["id"] = AnyEncodable(id) }
        try? await sendJSON(message)
    }

    func sendJSON(_ message: [String: AnyEncodable]) async throws {
        let data = try JSONEncoder().encode(message)
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
    }
}

struct AnyEncodable: Encodable, Sendable {
    let encodeValue: @Sendable (any Encoder) throws -> Void
    init<T: Encodable & Sendable>(_ value: T) { encodeValue = { try value.encode(to: $0) } }
    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}
