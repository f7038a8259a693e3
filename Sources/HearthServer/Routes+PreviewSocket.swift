import Foundation
import HearthControlPlane
import HearthCore
import HearthIdentity
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

/// WebSockets of a previewed app (`/w/{ws}/p/{port}/~{grant}/…`, as its page opens them): the
/// browser's WebSocket ends here, and a second one, over an agent tunnel, goes to the guest
/// server; messages are relayed between the two. Authenticated by the grant, like the preview.
enum PreviewSocket {
    /// `servedElsewhere`: a preview domain is set, so nothing of a workspace is served on Hearth's
    /// origin (its page opens its WebSockets on the preview origin).
    static func register(on router: Router<HearthContext>, manager: WorkspaceManager, grants: PreviewGrants, identity: IdentityStore,
                         servedElsewhere: Bool = false) {
        router.ws("/w/:ws/p/:port/**", shouldUpgrade: { request, context in
            guard !servedElsewhere, (try? target(request, context.parameters, grants, identity)) != nil else { return .dontUpgrade }
            return offer(request)
        }) { inbound, outbound, context in
            guard let (grant, path) = try? target(context.request, context.requestContext.parameters, grants, identity) else { return }
            try await relay(grant: grant, path: path, request: context.request, inbound: inbound, outbound: outbound,
                            logger: context.logger, manager: manager)
        }
    }

    /// With a preview domain: a page on its own origin opens its WebSockets there, at any path.
    /// Registered before `AuthMiddleware` (the grant cookie is the credential, checked here), and
    /// followed by a gate that keeps every other WebSocket route off preview hosts.
    static func register(on router: Router<HearthContext>, origin: PreviewOrigin, manager: WorkspaceManager, grants: PreviewGrants,
                         identity: IdentityStore) {
        router.ws("/**", shouldUpgrade: { request, _ in
            guard (try? originTarget(request, origin, grants, identity)) != nil else { return .dontUpgrade }
            return offer(request)
        }) { inbound, outbound, context in
            guard let (grant, path) = try? originTarget(context.request, origin, grants, identity) else { return }
            try await relay(grant: grant, path: path, request: context.request, inbound: inbound, outbound: outbound,
                            logger: context.logger, manager: manager)
        }
        router.middlewares.add(PreviewHostGate(origin: origin))
    }

    /// The guest answers later; offer the client's first subprotocol, which is what a
    /// single-protocol app expects back.
    static func offer(_ request: Request) -> RouterShouldUpgrade {
        if let offered = request.headers[.secWebSocketProtocol]?.split(separator: ",").first {
            return .upgrade([.secWebSocketProtocol: offered.trimmingCharacters(in: .whitespaces)])
        }
        return .upgrade([:])
    }

    static func relay(grant: PreviewGrants.Grant, path: String, request: Request, inbound: WebSocketInboundStream,
                      outbound: WebSocketOutboundWriter, logger: Logger, manager: WorkspaceManager) async throws {
        let stream = try await manager.agent(for: try await manager.resolveWorkspace(granted: grant.workspaceID)).tunnel(port: grant.port)
        defer { stream.close() }
        var handshake = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(grant.port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        handshake += "Sec-WebSocket-Key: \(Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())\r\nSec-WebSocket-Version: 13\r\n"
        if let offered = request.headers[.secWebSocketProtocol] { handshake += "Sec-WebSocket-Protocol: \(offered)\r\n" }
        _ = try await stream.send(Array((handshake + "\r\n").utf8))
        let firstFrames = try await readUpgrade(stream)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await message in inbound.messages(maxSize: WebSocketFrameDecoder.maxMessage) {
                    switch message {
                    case .text(let text): _ = try await stream.send(WebSocketFrameDecoder.clientFrame(opcode: 1, Array(text.utf8)))
                    case .binary(let buffer): _ = try await stream.send(WebSocketFrameDecoder.clientFrame(opcode: 2, Array(buffer.readableBytesView)))
                    }
                }
                _ = try? await stream.send(WebSocketFrameDecoder.clientFrame(opcode: 8, [0x03, 0xE8]))
            }
            group.addTask {
                var decoder = WebSocketFrameDecoder()
                decoder.append(firstFrames)
                while true {
                    let frame: (UInt8, [UInt8])?
                    do {
                        frame = try decoder.next()
                    } catch let error as WebSocketFrameDecoder.TooLarge {
                        // The guest's message would be held whole: the browser's side closes
                        // with 1009 and the guest's tunnel is dropped.
                        logger.notice("preview WebSocket message over the cap; closed with 1009",
                                      metadata: ["workspace.id": "\(grant.workspaceID)", "preview.port": "\(grant.port)"])
                        try? await outbound.close(.messageTooLarge, reason: "a message from the workspace is over \(error.limit) bytes")
                        return
                    }
                    if let (opcode, payload) = frame {
                        switch opcode {
                        case 1: try await outbound.write(.text(String(decoding: payload, as: UTF8.self)))
                        case 2: try await outbound.write(.binary(ByteBuffer(bytes: payload)))
                        case 9: _ = try await stream.send(WebSocketFrameDecoder.clientFrame(opcode: 10, payload))
                        case 8: return
                        default: continue
                        }
                        continue
                    }
                    guard let bytes = try await stream.next() else { return }
                    decoder.append(bytes)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The grant and guest path of a WebSocket opened on a preview origin (Host and grant cookie).
    static func originTarget(_ request: Request, _ origin: PreviewOrigin, _ grants: PreviewGrants,
                             _ identity: IdentityStore) throws -> (PreviewGrants.Grant, String) {
        guard let authority = request.head.authority, let (id, port) = origin.target(authority: authority),
              let grant = origin.grant(offeredBy: request, workspaceID: id, port: port, grants: grants, identity: identity) else {
            throw HearthError(.unauthorized, "open this preview from the workspace's ports panel")
        }
        guard grant.role.canWrite else { throw HearthError(.forbidden, "a viewer cannot open a preview's WebSocket") }
        return (grant, request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))
    }

    static func target(_ request: Request, _ parameters: Parameters, _ grants: PreviewGrants,
                       _ identity: IdentityStore) throws -> (PreviewGrants.Grant, String) {
        let ref = try parameters.require("ws")
        guard let port = parameters.get("port", as: UInt16.self) else { throw HearthError(.invalidArgument, "bad port") }
        let rest = String(request.uri.path.dropFirst("/w/\(ref)/p/\(port)".count))
        let (grant, _, tail) = try PreviewRoutes.granted(rest, reference: ref, port: port, grants: grants, identity: identity)
        guard grant.role.canWrite else { throw HearthError(.forbidden, "a viewer cannot open a preview's WebSocket") }
        return (grant, (tail.isEmpty ? "/" : tail) + (request.uri.query.map { "?" + $0 } ?? ""))
    }

    /// Reads the guest's answer to the upgrade; returns the bytes after it (its first frames).
    static func readUpgrade(_ stream: TunnelStream) async throws -> [UInt8] {
        var buffer: [UInt8] = []
        while buffer.firstRange(of: [13, 10, 13, 10]) == nil {
            guard buffer.count < 64 << 10 else {
                throw HearthError(.agentUnavailable, "the server in the workspace did not accept the WebSocket")
            }
            // The tunnel's sequence ends at the guest's end of stream.
            guard let bytes = try await stream.next() else {
                throw HearthError(.agentUnavailable, "the server in the workspace closed the WebSocket")
            }
            buffer += bytes
        }
        let end = buffer.firstRange(of: [13, 10, 13, 10])!
        let status = String(decoding: buffer[..<end.lowerBound], as: UTF8.self).split(separator: " ").dropFirst().first
        guard status == "101" else { throw HearthError(.agentUnavailable, "the server in the workspace refused the WebSocket") }
        return Array(buffer[end.upperBound...])
    }
}

/// RFC 6455 frames as a WebSocket client writes (masked) and reads (unmasked, possibly fragmented)
/// them. The guest is untrusted: a message is capped at `maxMessage` (as the browser's side is),
/// control frames at 125 bytes, and decoding is linear in the bytes received: consumed bytes are
/// skipped by an index and compacted away only once they are the larger part of the buffer.
struct WebSocketFrameDecoder {
    static let maxMessage = 1 << 20
    struct TooLarge: Error, Equatable { var limit: Int }

    private var buffer: [UInt8] = []
    private var start = 0
    private var fragments: [UInt8] = []
    private var fragmentOpcode: UInt8 = 0

    /// Bytes received and not yet decoded (bounded by one frame header plus `maxMessage`, since a
    /// caller appends only after `next()` returned nil).
    var pending: Int { buffer.count - start }
    var heldFragments: Int { fragments.count }
    /// Bytes moved by compaction, over the decoder's life: at most the bytes appended (linearity).
    private(set) var bytesMoved = 0

    mutating func append(_ bytes: [UInt8]) {
        if start > 0, start >= buffer.count / 2 {
            bytesMoved &+= buffer.count - start
            buffer.removeFirst(start)
            start = 0
        }
        buffer += bytes
    }

    /// The next complete message or control frame: (opcode, payload).
    mutating func next() throws -> (UInt8, [UInt8])? {
        while true {
            let available = buffer.count - start
            guard available >= 2 else { return nil }
            let first = buffer[start], second = buffer[start + 1]
            let fin = first & 0x80 != 0, opcode = first & 0x0F, masked = second & 0x80 != 0
            var length = UInt64(second & 0x7F), offset = 2
            if length == 126 {
                guard available >= 4 else { return nil }
                length = UInt64(buffer[start + 2]) << 8 | UInt64(buffer[start + 3])
                offset = 4
            } else if length == 127 {
                guard available >= 10 else { return nil }
                length = buffer[(start + 2)..<(start + 10)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                offset = 10
            }
            if opcode >= 8 {
                guard length <= 125, fin else { throw HearthError(.agentProtocol, "a preview WebSocket control frame is malformed") }
            }
            // Checked before anything is held: the total a message would reach, not just this frame.
            guard length <= UInt64(Self.maxMessage), opcode >= 8 || fragments.count + Int(length) <= Self.maxMessage else {
                throw TooLarge(limit: Self.maxMessage)
            }
            let count = Int(length)
            let maskOffset = start + offset
            if masked { offset += 4 }
            guard available >= offset + count else { return nil }
            let body = start + offset
            var payload = Array(buffer[body..<body + count])
            if masked { for i in payload.indices { payload[i] ^= buffer[maskOffset + i % 4] } }
            start += offset + count
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            if opcode >= 8 { return (opcode, payload) }
            if opcode != 0 {
                fragmentOpcode = opcode
                fragments = []
            }
            fragments += payload
            if fin {
                defer { fragments = [] }
                return (fragmentOpcode, fragments)
            }
        }
    }

    static func clientFrame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }
}
