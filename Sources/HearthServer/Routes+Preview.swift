import Foundation
import HearthControlPlane
import HearthCore
import HearthIdentity
import HTTPTypes
import Hummingbird
import NIOCore
import Logging

/// `/w/{ws}/p/{port}/…`: the authenticated preview of a web server inside a workspace, carried
/// over the agent's tunnel (the guest's network stays closed).
///
/// A previewed page is the workspace's code, served on Hearth's own origin, so it must not run
/// with the user's Hearth session. Its answers therefore carry `Content-Security-Policy: sandbox`:
/// the page gets an opaque origin, cannot read the IDE, and its requests carry no Hearth cookie.
/// The preview authenticates them by capability instead: opening `/w/{ws}/p/{port}/` with a
/// session or token issues a grant (128 random bits, 12 hours, this workspace and port only, the
/// caller's role, honoured only while the caller's token or session is) and redirects to `/w/{ws}/p/{port}/~{grant}/`, under which the page's relative
/// links, scripts, fetches and forms resolve and are let through.
///
/// Each request is one tunnel and one HTTP/1.0 exchange with the guest server, so no connection
/// state is shared between users. The guest never frames what the browser gets: its
/// `Content-Length` is honoured exactly (extra bytes dropped, missing ones close the connection)
/// and without one the answer is chunked by Hearth (`PreviewResponseHead`, `BoundedRelay`). Its
/// cookies are confined to this preview's path (`PreviewCookies`). The guest sees neither Hearth's
/// session cookie, nor a Hearth bearer token, nor any `X-Forwarded-*` header the client sent.
struct PreviewRoutes {
    let manager: WorkspaceManager
    let auditor: Auditor
    let cookies: SessionCookies
    let grants: PreviewGrants
    let identity: IdentityStore
    /// Set by `--preview-domain`: previews are served from `{id}-{port}.{domain}`, and their
    /// `/w/…` URLs on Hearth's origin only redirect there.
    var origin: PreviewOrigin?
    /// A request body without a length (chunked) is held to learn it, up to this much.
    static let maxHeldBody = 1 << 20

    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
                                        "proxy-authorization", "proxy-authenticate", "host", "content-length", "expect"]

    func register(on router: Router<HearthContext>) {
        for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete, .options] {
            router.on("/w/:ws/p/:port/**", method: method) { request, context in try await route(request, context) }
            router.on("/w/:ws/p/:port", method: method) { request, context in try await route(request, context) }
        }
    }

    func route(_ request: Request, _ context: HearthContext) async throws -> Response {
        let ref = try context.parameters.require("ws")
        guard let port = context.parameters.get("port", as: UInt16.self), port > 0 else {
            throw HearthError(.invalidArgument, "the port must be a number between 1 and 65535")
        }
        let base = "/w/\(ref)/p/\(port)"
        let rest = String(request.uri.path.dropFirst(base.count))
        let query = request.uri.query.map { "?" + $0 } ?? ""
        guard rest.hasPrefix("/~") else {
            // Opening the preview: authenticated like any API call, then exchanged for a grant.
            let principal = try context.caller()
            let id = try await context.workspaceID(manager)
            guard AuthMiddleware.isSafe(request.method) else {
                throw HearthError(.invalidArgument, "open the preview with GET; its page then talks to the server itself")
            }
            let key = try grants.issue(PreviewGrants.Grant(workspaceID: id, reference: ref, port: port, tenant: principal.tenantName,
                                                           actor: principal.email, role: principal.role,
                                                           credential: PreviewGrants.Credential(principal.credential)))
            await auditor.record(context, "preview.open", target: id, detail: "port \(port)")
            let at = origin.map { $0.url(workspaceID: id, port: port) } ?? base
            return Response(status: .found, headers: [.location: "\(at)/~\(key)\(rest.isEmpty ? "/" : rest)\(query)", .cacheControl: "no-store"])
        }
        let (grant, key, tail) = try Self.granted(rest, reference: ref, port: port, grants: grants, identity: identity)
        if !grant.role.canWrite, !AuthMiddleware.isSafe(request.method) {
            throw HearthError(.forbidden, "a viewer cannot change anything")
        }
        if let origin {
            // With a preview domain, nothing of a workspace is served on Hearth's own origin.
            let at = origin.url(workspaceID: grant.workspaceID, port: port)
            return Response(status: .found, headers: [.location: "\(at)/~\(key)\(tail.isEmpty ? "/" : tail)\(query)", .cacheControl: "no-store"])
        }
        if tail.isEmpty {
            return Response(status: .movedPermanently, headers: [.location: "\(base)/~\(key)/\(query)"])
        }
        let path = tail + query
        // The sandboxed page's origin is opaque ("null"), so even its fetches to its own server
        // are cross-origin. The grant in the URL is the credential, not a cookie, so any origin
        // may read the answer: answer preflights here and mark answers readable.
        if request.method == .options, let asked = request.headers[.accessControlRequestMethod] {
            var headers: HTTPFields = [.accessControlAllowOrigin: "*", .accessControlAllowMethods: asked, .accessControlMaxAge: "600"]
            if let wanted = request.headers[.accessControlRequestHeaders] { headers[.accessControlAllowHeaders] = wanted }
            return Response(status: .noContent, headers: headers)
        }
        var response = try await forward(request, workspaceID: grant.workspaceID, port: port, path: path, cookiePath: base + "/")
        response.headers[.accessControlAllowOrigin] = "*"
        // On Hearth's origin the page must not run as Hearth: an opaque origin of its own.
        response.headers[.contentSecurityPolicy] = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
        return response
    }

    /// The grant a `/~{grant}/…` remainder of a preview URL carries, and the guest path after it.
    static func granted(_ rest: String, reference: String, port: UInt16, grants: PreviewGrants,
                        identity: IdentityStore) throws -> (PreviewGrants.Grant, String, String) {
        guard rest.hasPrefix("/~") else { throw HearthError(.unauthorized, "a preview is opened from the workspace's ports panel") }
        let afterMark = rest.dropFirst(2)
        let key = String(afterMark.prefix { $0 != "/" })
        guard let grant = grants.grant(key, isLive: { $0.isLive(in: identity) }), grant.reference == reference, grant.port == port else {
            throw HearthError(.unauthorized, "this preview link has expired or is not yours; open it again from the workspace's ports panel",
                              detail: "preview grant refused: unknown, expired, ended with its credential, or for another workspace or port")
        }
        return (grant, key, String(afterMark.dropFirst(key.count)))
    }

    func forward(_ request: Request, workspaceID id: String, port: UInt16, path: String, cookiePath: String) async throws -> Response {
        // A body with a length streams through as it arrives (the tunnel's credit is the
        // backpressure); only one without (chunked) is held, up to a small bound, to learn its length.
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        let held = declared == nil ? try await request.body.collect(upTo: Self.maxHeldBody) : nil
        let stream: TunnelStream
        do {
            // The grant names the workspace: it is looked up by id, once.
            // The request's head goes with the open: one guest round trip, not two.
            stream = try await manager.agent(for: try await manager.resolveWorkspace(granted: id))
                .tunnel(port: port, sending: head(request, path: path, port: port, bodyLength: declared ?? held?.readableBytes ?? 0))
        } catch {
            var mapped = HearthError.from(error)
            if error is TunnelRefused { mapped = HearthError(.agentUnavailable, "nothing is listening on port \(port) in this workspace") }
            if request.headers[.accept]?.contains("text/html") == true { return Self.errorPage(mapped) }
            throw mapped
        }
        do {
            if let held, held.readableBytes > 0 {
                _ = try await stream.send(held.readableBytesView)
            } else if declared ?? 0 > 0 {
                for try await buffer in request.body {
                    guard try await stream.send(buffer.readableBytesView) else { break }
                }
            }
            let (answer, rest) = try await readHead(stream, cookiePath: cookiePath, isHead: request.method == .head)
            let logger = auditor.logger
            if answer.droppedCookies > 0 {
                logger.notice("preview cookie refused", metadata: ["workspace.id": "\(id)", "preview.port": "\(port)",
                                                                    "preview.cookies_dropped": "\(answer.droppedCookies)"])
            }
            let length: Int?
            switch answer.framing {
            case .none:
                stream.close()
                return Response(status: answer.status, headers: answer.fields, body: ResponseBody())
            case .length(let declared): length = declared
            case .untilClose: length = nil
            }
            return Response(status: answer.status, headers: answer.fields, body: ResponseBody(contentLength: length) { writer in
                defer { stream.close() }
                do {
                    _ = try await BoundedRelay.relay(first: rest, stream, length: length) { try await writer.write(ByteBuffer(bytes: $0)) }
                } catch let short as BoundedRelay.ShortBody {
                    logger.notice("preview answer shorter than its Content-Length; connection closed",
                                  metadata: ["workspace.id": "\(id)", "preview.port": "\(port)", "preview.expected": "\(short.expected)",
                                             "preview.sent": "\(short.sent)"])
                    throw short
                }
                try await writer.finish(nil)
            })
        } catch {
            stream.close()
            throw error
        }
    }

    /// A browser tab gets the error as a page, not as JSON.
    static func errorPage(_ error: HearthError) -> Response {
        let message = error.message.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        let html = "<!doctype html><meta charset=utf-8><title>Preview unavailable</title><body style=\"font:16px system-ui;margin:3em\">"
            + "<h1>Preview unavailable</h1><p id=hearth-error>\(message)</p><p>Start the server in a terminal, then reload.</p>"
        return Response(status: error.status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The request as the guest server sees it.
    func head(_ request: Request, path: String, port: UInt16, bodyLength: Int) -> [UInt8] {
        var lines = ["\(request.method.rawValue) \(path) HTTP/1.0", "Host: 127.0.0.1:\(port)", "Connection: close"]
        for field in request.headers {
            let name = field.name.canonicalName
            if Self.hopByHop.contains(name) || name.hasPrefix("x-forwarded-") || name == "forwarded" { continue }
            if name == "cookie" {
                if let kept = PreviewCookies.forGuest(field.value) { lines.append("Cookie: \(kept)") }
                continue
            }
            if name == "authorization", field.value.contains("hth_") { continue }
            lines.append("\(field.name.rawName): \(field.value)")
        }
        if bodyLength > 0 || ["POST", "PUT", "PATCH"].contains(request.method.rawValue) { lines.append("Content-Length: \(bodyLength)") }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// Reads the guest's status line and headers; returns them and the body bytes read past them.
    func readHead(_ stream: TunnelStream, cookiePath: String, isHead: Bool) async throws -> (PreviewResponseHead, [UInt8]) {
        var buffer: [UInt8] = []
        while buffer.count <= PreviewResponseHead.maxHead, let bytes = try await stream.next() {
            let scanned = buffer.count
            buffer += bytes
            if let end = PreviewResponseHead.endOfHead(buffer, from: scanned), end.lowerBound <= PreviewResponseHead.maxHead {
                let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                var answer = try PreviewResponseHead.parse(head, cookiePath: cookiePath, isHead: isHead)
                // The grant may be in the URL: never sent on to another site.
                answer.fields[.referrerPolicy] = "no-referrer"
                return (answer, Array(buffer[end.upperBound...]))
            }
        }
        throw HearthError(.agentUnavailable, "the server in the workspace did not answer with HTTP")
    }
}
