import Foundation
import HearthAPI
import HearthAudit
import HearthCore
import HearthIdentity
import Hummingbird
import HearthControlPlane
import Logging

/// Sign-in, tenants, users and API tokens. The admin of the default tenant operates the whole
/// server (creates tenants, reads every tenant's audit events); other admins manage their own tenant.
struct IdentityRoutes {
    let identity: IdentityStore
    let auditor: Auditor
    let cookies: SessionCookies
    /// What else a deleted user leaves behind (their own provider keys).
    var userDeleted: @Sendable (User) throws -> Void = { _ in }

    func register(on router: Router<HearthContext>) {
        router.post("/v1/session") { request, context in
            // Login CSRF: a cross-site form can post text/plain or urlencoded bodies without a
            // preflight, never application/json; and a browser names the page's origin.
            guard Self.isJSON(request.headers[.contentType]) else {
                throw HearthError(.invalidArgument, "sign-in takes a JSON body (Content-Type: application/json)")
            }
            if let origin = request.headers[.origin], !cookies.isOwnOrigin(origin, request: request) {
                context.logger.notice("sign-in refused: foreign origin", metadata: ["client.address": "\(context.sourceIP)", "http.origin": "\(origin.prefix(200))"])
                await auditor.record(context, "signin.failure", result: HearthError.Code.forbidden.rawValue, detail: "foreign origin")
                throw HearthError(.forbidden, "sign-in from a foreign origin (\(origin.prefix(200))) is refused")
            }
            let body = try await request.decode(as: API.SignInBody.self, context: context)
            guard body.password.utf8.count <= 1024, body.email.utf8.count <= 254 else {
                throw HearthError(.invalidArgument, "an email is at most 254 bytes and a password at most 1024")
            }
            let user: User
            do {
                user = try await identity.signIn(email: body.email, password: body.password, address: context.sourceIP)
            } catch {
                let refusal = HearthError.from(error)
                if refusal.code == .rateLimited {
                    context.logger.notice("sign-in refused", metadata: ["client.address": "\(context.sourceIP)", "error.detail": "\(refusal.detail ?? "")"])
                }
                // The attempted name is recorded, never the password.
                await auditor.record(context, "signin.failure", target: String(body.email.prefix(254)),
                               result: HearthError.from(error).code.rawValue)
                throw error
            }
            let (secret, csrf) = try identity.createSession(for: user)
            let principal = try identity.authenticate(session: secret)
            await auditor.record(context, "signin", target: user.email, principal: principal)
            var response = try json(API.SessionBody(user: user.email, tenant: principal.tenantName, role: user.role.rawValue, csrf: csrf))
            response.headers[.setCookie] = cookies.setCookie(secret, maxAge: Int(identity.policy.sessionLifetime))
            return response
        }
        router.get("/v1/session") { _, context in
            let principal = try context.caller()
            var csrf: String?
            if case .session(_, let token) = principal.credential { csrf = token }
            return try json(API.SessionBody(user: principal.email, tenant: principal.tenantName, role: principal.role.rawValue, csrf: csrf))
        }
        router.delete("/v1/session") { _, context in
            let principal = try context.caller()
            if case .session(let id, _) = principal.credential { try identity.endSession(id: id) }
            await auditor.record(context, "signout", target: principal.email)
            var response = Response(status: .noContent)
            response.headers[.setCookie] = cookies.clearCookie
            return response
        }

        router.post("/v1/tenants") { request, context in
            let principal = try operatorAdmin(context)
            let body = try await request.decode(as: API.CreateTenantBody.self, context: context)
            let tenant = try await auditor.around(context, "tenant.create", target: body.name) { try identity.createTenant(name: body.name) }
            _ = principal
            return try json(API.TenantBody(id: tenant.id, name: tenant.name, created_at: tenant.createdAt), status: .created)
        }
        router.post("/v1/users") { request, context in
            let body = try await request.decode(as: API.CreateUserBody.self, context: context)
            let tenant = try tenant(named: body.tenant, context)
            guard let role = Role(rawValue: body.role) else { throw HearthError(.invalidArgument, "the role is admin, member or viewer") }
            let user = try await auditor.around(context, "user.create", target: body.email, detail: "role=\(role.rawValue) tenant=\(tenant.name)") {
                try identity.createUser(email: body.email, tenantId: tenant.id, role: role, password: body.password)
            }
            return try json(API.UserBody(id: user.id, email: user.email, tenant: tenant.name, role: user.role.rawValue), status: .created)
        }

        router.post("/v1/tokens") { request, context in
            let principal = try context.caller()
            let body = try await request.decode(as: API.CreateTokenBody.self, context: context)
            let owner = try owner(of: body, context)
            let role = try body.role.map { name in
                guard let role = Role(rawValue: name) else { throw HearthError(.invalidArgument, "the role is admin, member or viewer") }
                return role
            }
            if let seconds = body.expires_in, seconds <= 0 { throw HearthError(.invalidArgument, "expires_in must be positive") }
            let expiry = body.expires_in.map { Date().addingTimeInterval(TimeInterval($0)) }
            let (info, secret) = try await auditor.around(context, "token.create", target: owner.email, detail: "name=\(body.name)") {
                try identity.createToken(name: body.name, for: owner, role: role, expiresAt: expiry)
            }
            _ = principal
            return try json(Self.body(info, secret: secret), status: .created)
        }
        router.get("/v1/tokens") { _, context in
            let principal = try context.caller()
            let tokens = try identity.tokens(tenantId: principal.tenantId, userId: principal.role == .admin ? nil : principal.userId)
            return try json(API.TokenList(tokens: tokens.map { Self.body($0, secret: nil) }))
        }
        router.delete("/v1/tokens/:id") { _, context in
            let principal = try context.caller()
            let id = try context.parameters.require("id")
            let info = try await auditor.around(context, "token.revoke", target: id) { try identity.revokeToken(id: id, by: principal) }
            return try json(Self.body(info, secret: nil))
        }
        UserRoutes(identity: identity, auditor: auditor, userDeleted: userDeleted).register(on: router)
    }

    /// Whether a Content-Type is JSON (`application/json`, any parameters, any case).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == "application/json"
    }

    /// The admin of the default tenant: the server's operator.
    func operatorAdmin(_ context: HearthContext) throws -> Principal {
        let principal = try context.admin()
        guard principal.tenantId == Tenancy.defaultTenantID else {
            throw HearthError(.forbidden, "only an admin of the default tenant can do this")
        }
        return principal
    }

    /// `name`'s tenant, which only the operator may name when it is not the caller's own.
    func tenant(named name: String?, _ context: HearthContext) throws -> Tenant {
        let principal = try context.admin()
        guard let name, name != principal.tenantName else {
            return Tenant(id: principal.tenantId, name: principal.tenantName, createdAt: Date())
        }
        _ = try operatorAdmin(context)
        guard let tenant = try identity.tenant(named: name) else { throw HearthError(.notFound, "no tenant \(name)") }
        return tenant
    }

    /// Whose token to create: the caller's own, or (admins) a user of their tenant, or (the operator) any user.
    func owner(of body: API.CreateTokenBody, _ context: HearthContext) throws -> User {
        let principal = try context.caller()
        if body.user == nil, body.tenant == nil || body.tenant == principal.tenantName {
            return User(id: principal.userId, tenantId: principal.tenantId, email: principal.email, role: principal.role, createdAt: Date())
        }
        let tenant = try tenant(named: body.tenant, context)
        guard let email = body.user else { throw HearthError(.invalidArgument, "name the user the token is for") }
        guard let user = try identity.user(email: email, tenantId: tenant.id) else { throw HearthError(.notFound, "no user \(email) in \(tenant.name)") }
        return user
    }

    static func body(_ info: TokenInfo, secret: String?) -> API.TokenBody {
        API.TokenBody(id: info.id, name: info.name, prefix: info.prefix, role: info.role.rawValue, tenant: info.tenant, user: info.user,
                      created_at: info.createdAt, expires_at: info.expiresAt, revoked_at: info.revokedAt, last_used_at: info.lastUsedAt,
                      token: secret)
    }
}

/// `GET /v1/audit` (JSON lines, oldest first) and `GET /v1/audit/verify`.
struct AuditRoutes {
    let log: AuditLog
    static let pageSize = 500

    func register(on router: Router<HearthContext>) {
        router.get("/v1/audit") { request, context in
            let principal = try context.admin()
            var since: Date?
            if let text = request.uri.queryParameters.get("since") {
                guard let date = ISO8601DateFormatter().date(from: String(text)) else {
                    throw HearthError(.invalidArgument, "since is an ISO 8601 time, such as 2026-11-22T10:00:00Z")
                }
                since = date
            }
            let scope = principal.tenantId == Tenancy.defaultTenantID ? nil : principal.tenantName
            let log = self.log
            let since_ = since
            // Streamed a page at a time: the log can outgrow memory, and a slow reader holds one
            // page, never the whole log (the writer waits for the client).
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
                let encoder = API.encoder()
                var after: Int64 = 0
                while true {
                    let page = try log.events(after: after, since: since_, tenant: scope, limit: Self.pageSize)
                    guard let last = page.last else { break }
                    var buffer = ByteBuffer()
                    for event in page {
                        buffer.writeBytes(try encoder.encode(Self.body(event)))
                        buffer.writeString("\n")
                    }
                    try await writer.write(buffer)
                    after = last.seq
                    if page.count < Self.pageSize { break }
                }
                try await writer.finish(nil)
            })
        }
        router.get("/v1/audit/verify") { _, context in
            let principal = try context.admin()
            guard principal.tenantId == Tenancy.defaultTenantID else {
                throw HearthError(.forbidden, "only an admin of the default tenant can verify the whole log")
            }
            let result = try log.verify()
            return try json(API.AuditVerifyBody(ok: result.ok, events: result.events, problems: result.problems))
        }
    }

    static func body(_ event: AuditEvent) -> API.AuditEventBody {
        API.AuditEventBody(seq: event.seq, time: event.time, tenant: event.tenant, actor: event.actor, action: event.action,
                           target: event.target, source_ip: event.sourceIP, result: event.result, detail: event.detail,
                           previous_hash: event.previousHash, hash: event.hash)
    }
}
