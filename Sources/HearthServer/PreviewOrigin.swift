import Foundation
import HearthCore
import HearthIdentity
import Hummingbird

/// Previews served from origins of their own, one per workspace and port
/// (`hearth serve --preview-domain DOMAIN`): `{id}-{port}.DOMAIN`, where `{id}` is the workspace id
/// without its `ws_` (a DNS label). A page there shares neither Hearth's origin nor another
/// preview's, so its cookies and storage are its own and it runs without the opaque-origin sandbox.
///
/// The grant stays the credential. The first visit carries it in the path (`/~{grant}/…`, where
/// opening a preview on Hearth's origin redirects); that sets a host-only HttpOnly cookie on this
/// origin and redirects to the path without it. The operator provides a wildcard DNS name
/// (`*.DOMAIN`) pointing at the server and, behind TLS, a wildcard certificate for it.
struct PreviewOrigin: Sendable {
    /// The cookie that carries a preview's grant on its own origin (host-only).
    static let grantCookie = "hearth_preview"

    /// Lowercased, possibly with a port (`preview.localhost:7071`).
    let domain: String
    let secure: Bool

    init(domain: String, secure: Bool) {
        self.domain = domain.lowercased().trimmingSuffix("/")
        self.secure = secure
    }

    var cookieName: String { secure ? "__Host-" + Self.grantCookie : Self.grantCookie }

    func url(workspaceID: String, port: UInt16) -> String {
        "\(secure ? "https" : "http")://\(workspaceID.dropFirst(3))-\(port).\(domain)"
    }

    /// The workspace id and port a Host header names, if it is one of this domain's preview hosts.
    func target(authority: String) -> (workspaceID: String, port: UInt16)? {
        let host = authority.lowercased()
        guard host.hasSuffix("." + domain) else { return nil }
        let label = host.dropLast(domain.count + 1)
        guard let dash = label.lastIndex(of: "-"), !label.contains(".") else { return nil }
        let id = label[..<dash], portText = label[label.index(after: dash)...]
        guard id.count == 20, id.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) }),
              portText.count <= 5, portText.utf8.allSatisfy({ (48...57).contains($0) }),
              let port = UInt16(portText), port > 0 else { return nil }
        return ("ws_" + id, port)
    }

    func setCookie(_ key: String) -> String {
        "\(cookieName)=\(key); Path=/; HttpOnly; SameSite=Lax; Max-Age=\(Int(PreviewGrants.lifetime))" + (secure ? "; Secure" : "")
    }

    /// The live grant among the request's cookies that is for this workspace and port.
    func grant(offeredBy request: Request, workspaceID id: String, port: UInt16, grants: PreviewGrants,
               identity: IdentityStore) -> PreviewGrants.Grant? {
        offeredKeys(request).lazy.compactMap { grants.grant($0, isLive: { $0.isLive(in: identity) }) }
            .first { $0.workspaceID == id && $0.port == port }
    }

    /// The grant keys the request's cookies offer for this origin (a sibling preview may have
    /// tossed a same-named cookie for the whole domain, so every one is a candidate).
    func offeredKeys(_ request: Request) -> [String] {
        request.headers[values: .cookie].flatMap { $0.split(separator: ";") }.compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
    }
}

/// Answers every request whose Host is a preview host, before authentication and routing: nothing
/// of Hearth's API is reachable on a preview origin, only the guest's server, through the grant.
struct PreviewOriginMiddleware: RouterMiddleware {
    typealias Context = HearthContext
    let origin: PreviewOrigin
    let routes: PreviewRoutes

    func handle(_ request: Request, context: HearthContext, next: (Request, HearthContext) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority, let (id, port) = origin.target(authority: authority) else {
            return try await next(request, context)
        }
        let path = request.uri.path
        let query = request.uri.query.map { "?" + $0 } ?? ""
        let live: (PreviewGrants.Credential) -> Bool = { $0.isLive(in: routes.identity) }
        if path.hasPrefix("/~") {
            let key = String(path.dropFirst(2).prefix { $0 != "/" })
            guard let grant = routes.grants.grant(key, isLive: live), grant.workspaceID == id, grant.port == port else {
                throw HearthError(.unauthorized, "this preview link has expired or is not yours; open it again from the workspace's ports panel",
                                  detail: "preview grant refused on preview origin \(id) port \(port)")
            }
            let rest = String(path.dropFirst(2 + key.count))
            return Response(status: .found, headers: [.location: (rest.isEmpty ? "/" : rest) + query, .setCookie: origin.setCookie(key),
                                                      .cacheControl: "no-store", .referrerPolicy: "no-referrer"])
        }
        guard let grant = origin.grant(offeredBy: request, workspaceID: id, port: port, grants: routes.grants, identity: routes.identity) else {
            throw HearthError(.unauthorized, "open this preview from the workspace's ports panel",
                              detail: "no live grant for preview origin \(id) port \(port)")
        }
        if !grant.role.canWrite, !AuthMiddleware.isSafe(request.method) {
            throw HearthError(.forbidden, "a viewer cannot change anything")
        }
        return try await routes.forward(request, workspaceID: grant.workspaceID, port: port, path: path + query, cookiePath: "/")
    }
}

/// Keeps Hearth's own WebSocket routes off preview hosts: on a preview origin only the preview's
/// WebSocket (registered before this gate) answers.
struct PreviewHostGate: RouterMiddleware {
    typealias Context = HearthContext
    let origin: PreviewOrigin

    func handle(_ request: Request, context: HearthContext, next: (Request, HearthContext) async throws -> Response) async throws -> Response {
        if let authority = request.head.authority, origin.target(authority: authority) != nil {
            throw HearthError(.notFound, "not found", detail: "a Hearth WebSocket route was asked for on a preview host")
        }
        return try await next(request, context)
    }
}
