import HearthCore
import HearthIdentity
import Hummingbird
import Foundation

/// Authenticates every request that is not public, from a bearer token or a browser session
/// cookie, and enforces what no route may forget:
/// - a cookie-authenticated request that changes state carries the session's CSRF token;
/// - a cookie-authenticated WebSocket handshake comes from this server's own origin;
/// - a viewer changes nothing.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = HearthContext
    let identity: IdentityStore
    let cookies: SessionCookies

    static func isPublic(_ request: Request) -> Bool {
        let path = request.uri.path
        if path == "/v1/health" || path == "/v1/openapi.json" || path == "/" || path.hasPrefix("/static/") || path.hasPrefix("/vendor/") {
            return true
        }
        // A preview's page authenticates by the grant in its path (see `PreviewRoutes`), since its
        // sandboxed origin carries no Hearth cookie.
        if isPreviewGrantPath(path) { return true }
        return path == "/v1/session" && request.method == .post
    }

    /// Exactly `/w/{ws}/p/{port}/~{grant}` and what lies under it: the grant stands where the
    /// preview route reads it, so no other path is let through for merely containing `/w/` and `/~`.
    static func isPreviewGrantPath(_ path: String) -> Bool {
        let segments = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard segments.count >= 6, segments[0].isEmpty, segments[1].elementsEqual("w".utf8), !segments[2].isEmpty,
              segments[3].elementsEqual("p".utf8), !segments[4].isEmpty, segments[4].count <= 5,
              segments[4].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              segments[5].count > 1, segments[5].first == UInt8(ascii: "~") else { return false }
        // No dot segment anywhere (browsers resolve them before sending): nothing climbs out of the prefix.
        return !segments.contains { $0.elementsEqual(".".utf8) || $0.elementsEqual("..".utf8) }
    }

    func handle(_ request: Request, context: HearthContext, next: (Request, HearthContext) async throws -> Response) async throws -> Response {
        if Self.isPublic(request) { return try await next(request, context) }
        var context = context
        let principal: Principal
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer ") else { throw HearthError(.unauthorized, "a valid bearer token is required") }
            principal = try identity.authenticate(token: String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces))
        } else if let secret = cookies.session(in: request) {
            principal = try identity.authenticate(session: secret)
        } else {
            throw HearthError(.unauthorized, "a valid bearer token is required")
        }
        let isWebSocket = request.headers[.upgrade]?.lowercased() == "websocket"
        // Only a cookie rides along on a request another site makes; a bearer token never does,
        // so Origin and CSRF checks apply to browser sessions.
        if case .session(_, let csrf) = principal.credential {
            if isWebSocket {
                guard let origin = request.headers[.origin] else { throw HearthError(.forbidden, "a browser WebSocket must send its Origin") }
                guard cookies.isOwnOrigin(origin, request: request) else {
                    throw HearthError(.forbidden, "this WebSocket comes from a foreign origin (\(origin))")
                }
            }
            // A preview proxies the user's own app; its forms cannot carry Hearth's token, and the
            // SameSite=Strict cookie already keeps other sites' requests out.
            if !Self.isSafe(request.method), !request.uri.path.hasPrefix("/w/"),
               !constantTimeEquals(request.headers[.csrfToken] ?? "", csrf) {
                throw HearthError(.forbidden, "the request lacks this session's CSRF token; reload the page")
            }
        }
        // A viewer may still sign out and change its own password (the route checks whose).
        if !principal.role.canWrite, !Self.isSafe(request.method), request.uri.path != "/v1/session",
           !(request.method == .put && request.uri.path == "/v1/users/\(principal.userId)/password") {
            throw HearthError(.forbidden, "a viewer cannot change anything")
        }
        context.principal = principal
        return try await next(request, context)
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool { method == .get || method == .head }
}

func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for (p, q) in zip(x, y) { difference |= p ^ q }
    return difference == 0
}
