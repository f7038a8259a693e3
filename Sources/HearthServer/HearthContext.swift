public import HearthControlPlane
public import HearthCore
public import HearthIdentity
public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore

/// The request context of every route, HTTP and WebSocket alike: who is asking (set by
/// `AuthMiddleware` from the credential alone) and from where.
public struct HearthContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let remoteAddress: SocketAddress?
    /// The connection, so a route can drop a client whose socket stopped draining.
    let channel: any Channel
    public var principal: Principal?
    /// The client's address when a trusted proxy named it (`ClientAddressMiddleware`).
    public var forwardedClient: String?
    /// This request's id (`RequestIdMiddleware`): in the log metadata as `request.id`, the
    /// `X-Request-Id` response header and every error body.
    public var requestId: String = ""

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
        principal = nil
    }

    /// The authenticated caller. Routes behind `AuthMiddleware` always have one.
    public func caller() throws -> Principal {
        guard let principal else { throw HearthError(.unauthorized, "a valid bearer token is required") }
        return principal
    }

    /// The caller, if allowed to change things.
    public func writer() throws -> Principal {
        let principal = try caller()
        guard principal.role.canWrite else { throw HearthError(.forbidden, "a viewer cannot change anything") }
        return principal
    }

    public func admin() throws -> Principal {
        let principal = try caller()
        guard principal.role == .admin else { throw HearthError(.forbidden, "only an admin of the tenant can do this") }
        return principal
    }

    public var sourceIP: String { forwardedClient ?? remoteAddress?.ipAddress ?? "" }

    /// The id of the workspace in the `ws` path parameter, looked up within the caller's tenant.
    /// A workspace of another tenant is "not found", exactly like one that does not exist.
    func workspaceID(_ manager: WorkspaceManager) async throws -> String {
        try await manager.resolve(try parameters.require("ws"), tenantId: try caller().tenantId)
    }

    /// The workspace in the `ws` path parameter, looked up once within the caller's tenant, for a
    /// route that goes on to its agent.
    func workspace(_ manager: WorkspaceManager) async throws -> ResolvedWorkspace {
        try await manager.resolveWorkspace(try parameters.require("ws"), tenantId: try caller().tenantId)
    }
}
