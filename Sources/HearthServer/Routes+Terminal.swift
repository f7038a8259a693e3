import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthSessions
import Hummingbird
import Logging
import HummingbirdWebSocket
import NIOCore

/// `GET /v1/workspaces/{ws}/ws`: one WebSocket per open workspace page carrying all of its
/// terminals.
///
/// The client speaks first (as on the tunnel, so nothing the server says can race the upgrade).
/// Client → server, text JSON: `{"type":"list"}`, `{"type":"open","cols","rows"}`,
/// `{"type":"attach","id"}`, `{"type":"input","id","data"}`, `{"type":"resize","id","cols","rows"}`,
/// `{"type":"ack","id","bytes"}`, `{"type":"close","id"}`, and `{"type":"share","id","readOnly":true}`
/// (or `"shared":false` to stop sharing).
/// Server → client: text JSON `terminals` (each with `id`, `shared`, `readOnly`), `opened`,
/// `attached`, `shared`, `detached`, `exit`, `error`, `workspace` (`state`: each state the
/// workspace enters while the socket is open, e.g. `pausing`, `paused`, `resuming`, `running`; a
/// page re-lists its terminals when it reads `running`); and binary messages of a 4-byte big-endian
/// terminal id followed by output bytes. The client acknowledges the output bytes it has drawn;
/// see `Terminal` for the flow control and `TerminalHub` for who may use which terminal.
enum TerminalSocket {
    struct ClientMessage: Decodable {
        var type: String
        var id: Int?
        var data: String?
        var cols: Int?
        var rows: Int?
        var bytes: UInt64?
        var readOnly: Bool?
        var shared: Bool?
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
    struct Attachment {
        let terminal: Terminal
        /// This connection's client number at the terminal.
        let client: Int
        /// The task forwarding the terminal's output to the socket.
        let task: Task<Void, Never>
        let access: TerminalAccess
    }

    let manager: WorkspaceManager
    let hub: TerminalHub
    let auditor: Auditor
    let context: HearthContext
    let outbound: WebSocketOutboundWriter
    var workspaceID: String?
    /// The workspace, resolved once when the socket opened.
    var workspace: ResolvedWorkspace?
    var attached: [Int: Attachment] = [:]

    init(manager: WorkspaceManager, hub: TerminalHub, auditor: Auditor, context: HearthContext, outbound: WebSocketOutboundWriter) {
        self.manager = manager
        self.hub = hub
        self.auditor = auditor
        self.context = context
        self.outbound = outbound
    }

    func run(_ messages: WebSocketInboundMessageStream) async throws {
        let workspace = try await context.workspace(manager)
        let id = workspace.id
        (self.workspace, workspaceID) = (workspace, id)
        let caller = TerminalCaller(try context.caller())
        // The page learns every state its workspace enters (paused from the CLI, resumed), as a
        // child task of this connection that ends with it.
        let changes = await manager.store.changes.watch(id)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for await change in changes {
                    try? await sendJSON(["type": AnyEncodable("workspace"), "state": AnyEncodable(change.state.rawValue)])
                }
            }
            try await serve(messages, workspaceID: id, caller: caller)
            group.cancelAll()
        }
    }

    func serve(_ messages: WebSocketInboundMessageStream, workspaceID id: String, caller: TerminalCaller) async throws {
        for try await message in messages {
            guard case .text(let text) = message,
                  let request = try? JSONDecoder().decode(TerminalSocket.ClientMessage.self, from: Data(text.utf8)) else {
                await sendError(nil, HearthError(.invalidArgument, "messages are JSON text"))
                continue
            }
            do {
                try await handle(request, workspaceID: id, caller: caller)
            } catch {
                let refused = HearthError.from(error)
                auditor.logger.notice("terminal request refused", metadata: [
                    "workspace.id": .string(id), "terminal.request": .string(String(request.type.prefix(32))),
                    "terminal.id": .stringConvertible(request.id ?? 0), "error.code": .string(refused.code.rawValue)])
                await sendError(request.id, refused)
            }
        }
    }

    func handle(_ request: TerminalSocket.ClientMessage, workspaceID id: String, caller: TerminalCaller) async throws {
        let number = request.id ?? 0
        switch request.type {
        case "list":
            await hub.prune(workspaceID: id)
            let list = await hub.list(workspaceID: id, for: caller).map { entry in
                ["id": AnyEncodable(entry.terminal.id), "shared": AnyEncodable(entry.shared), "readOnly": AnyEncodable(entry.access == .readOnly)]
            }
            try await sendJSON(["type": AnyEncodable("terminals"), "terminals": AnyEncodable(list)])
        case "open":
            _ = try context.writer()
            let size = TerminalSize(rows: UInt16(clamping: max(1, request.rows ?? 24)), cols: UInt16(clamping: max(1, request.cols ?? 80)))
            // A detachable terminal: the shell outlives a pause, and `reattach` reaches it again.
            let session = TerminalReattach.newSessionKey()
            let exec = ExecCommand(argv: ["/bin/sh", "-c", "if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi"],
                                   env: ["TERM": "xterm-256color"], cwd: "/workspace", user: nil, pty: size, session: session)
            let terminal: Terminal
            do {
                guard let workspace else { throw HearthError(.notFound, "no workspace") }
                try await hub.mayOpen(workspaceID: id, owner: caller)
                // Opening a terminal is use; its shell, which lives on while nobody types, is not.
                manager.noteActivity(workspace.id)
                let shell = try await manager.agent(for: workspace, notingUse: false).exec(exec)
                terminal = try await hub.open(workspaceID: id, backend: ExecSessionTerminalBackend(shell), owner: caller,
                                              reattach: TerminalReattach.closure(manager: manager, workspaceID: id, session: session))
                await auditor.record(context, "terminal.open", target: id, detail: "terminal \(terminal.id)")
            } catch {
                await auditor.record(context, "terminal.open", target: id, result: HearthError.from(error).code.rawValue)
                throw error
            }
            try await sendJSON(["type": AnyEncodable("opened"), "id": AnyEncodable(terminal.id)])
            try await attach(terminal, access: .owner)
        case "attach":
            guard let (terminal, access) = await hub.terminal(number, workspaceID: id, for: caller) else {
                throw HearthError(.notFound, "no terminal \(number)")
            }
            try await sendJSON(["type": AnyEncodable("attached"), "id": AnyEncodable(terminal.id),
                                "readOnly": AnyEncodable(access == .readOnly)])
            try await attach(terminal, access: access)
        case "input":
            _ = try context.writer()
            guard let attachment = attached[number] else { throw HearthError(.notFound, "terminal \(number) is not attached") }
            guard attachment.access == .owner else { throw HearthError(.forbidden, "terminal \(number) is shared read-only") }
            manager.noteActivity(id)
            try await attachment.terminal.input(Array((request.data ?? "").utf8))
        case "resize":
            _ = try context.writer()
            // Any terminal of this workspace the caller owns, attached here or not: a page sizes its
            // terminals while it is still attaching them.
            guard let (terminal, access) = await hub.terminal(number, workspaceID: id, for: caller) else { return }
            guard access == .owner else { throw HearthError(.forbidden, "terminal \(number) is shared read-only") }
            try await terminal.resize(rows: request.rows ?? 24, cols: request.cols ?? 80)
        case "ack":
            guard let attachment = attached[number] else { return }
            await attachment.terminal.acknowledge(attachment.client, bytes: request.bytes ?? 0)
        case "share":
            _ = try context.writer()
            let shared = request.shared ?? true
            if shared, request.readOnly == false { throw HearthError(.invalidArgument, "a terminal is shared read-only") }
            let terminal = try await hub.share(number, workspaceID: id, shared: shared, by: caller)
            if !shared { await terminal.dropReadOnlyClients() }
            await auditor.record(context, shared ? "terminal.share" : "terminal.unshare", target: id, detail: "terminal \(number)")
            try await sendJSON(["type": AnyEncodable("shared"), "id": AnyEncodable(number), "shared": AnyEncodable(shared)])
        case "close":
            _ = try context.writer()
            let terminal = try await hub.remove(number, workspaceID: id, by: caller)
            // Closing reports the exit to every attached client, this one included; its forwarding
            // task then ends by itself.
            await terminal.close()
            attached.removeValue(forKey: number)
            await auditor.record(context, "terminal.close", target: id, detail: "terminal \(number)")
        default:
            throw HearthError(.invalidArgument, "unknown message type")
        }
    }

    func attach(_ terminal: Terminal, access: TerminalAccess) async throws {
        if let old = attached.removeValue(forKey: terminal.id) {
            old.task.cancel()
            await old.terminal.detach(old.client)
        }
        // A client dropped as too slow is not reading its socket; only closing it ends the write
        // its forwarding task is blocked in.
        let (channel, logger, workspaceID) = (context.channel, auditor.logger, terminal.workspaceID)
        let (client, output) = await terminal.attach(readOnly: access == .readOnly) { [number = terminal.id] in
            logger.notice("dropping a terminal connection that stopped reading", metadata: [
                "workspace.id": .string(workspaceID), "terminal.id": .stringConvertible(number)])
            channel.close(promise: nil)
        }
        let task = Task { await self.forward(output, of: terminal, client: client) }
        attached[terminal.id] = Attachment(terminal: terminal, client: client, task: task, access: access)
    }

    /// Writes a terminal's output to the socket, telling the terminal what went through: only that
    /// can be acknowledged.
    private nonisolated func forward(_ output: AsyncStream<TerminalOutput>, of terminal: Terminal, client: Int) async {
        let number = terminal.id
        for await event in output {
            switch event {
            case .data(let bytes):
                var buffer = ByteBuffer()
                buffer.reserveCapacity(4 + bytes.count)
                buffer.writeInteger(UInt32(truncatingIfNeeded: number))
                buffer.writeBytes(bytes)
                guard (try? await outbound.write(.binary(buffer))) != nil else { return }
                await terminal.delivered(client, bytes: bytes.count)
            case .exited(let status, let error):
                var message: [String: AnyEncodable] = ["type": AnyEncodable("exit"), "id": AnyEncodable(number), "code": AnyEncodable(status.code)]
                if let error { message["message"] = AnyEncodable(error) }
                try? await sendJSON(message)
            case .dropped(.unshared):
                await forget(number, client: client)
                try? await sendJSON(["type": AnyEncodable("detached"), "id": AnyEncodable(number)])
            case .dropped(.tooSlow):
                // The terminal has closed the connection (see `attach`).
                await forget(number, client: client)
            }
        }
    }

    private func forget(_ number: Int, client: Int) {
        if attached[number]?.client == client { attached.removeValue(forKey: number) }
    }

    /// The connection is gone; its terminals keep running for the next one.
    func detachAll() async {
        for attachment in attached.values {
            attachment.task.cancel()
            await attachment.terminal.detach(attachment.client)
        }
        attached.removeAll()
    }

    func sendError(_ id: Int?, _ error: HearthError) async {
        var message: [String: AnyEncodable] = ["type": AnyEncodable("error"), "code": AnyEncodable(error.code.rawValue),
                                               "message": AnyEncodable(error.message)]
        if let id { message["id"] = AnyEncodable(id) }
        try? await sendJSON(message)
    }

    nonisolated func sendJSON(_ message: [String: AnyEncodable]) async throws {
        let data = try JSONEncoder().encode(message)
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
    }
}

struct AnyEncodable: Encodable, Sendable {
    let encodeValue: @Sendable (any Encoder) throws -> Void
    init<T: Encodable & Sendable>(_ value: T) { encodeValue = { try value.encode(to: $0) } }
    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}
