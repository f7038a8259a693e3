public import AsyncHTTPClient
public import Foundation
public import HearthAPI
public import NIOCore
public import NIOHTTP1

extension HearthClient {
    /// A browser-style session: the cookie the server set and the CSRF token to echo.
    public struct Session: Sendable {
        public var cookie: String
        public var csrf: String
        public var body: API.SessionBody
    }

    public func signIn(email: String, password: String) async throws -> Session {
        var request = HTTPClientRequest(url: baseURL + "/v1/session")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try API.encoder().encode(API.SignInBody(email: email, password: password))))
        let response = try await execute(request)
        guard (200..<300).contains(response.status.code) else { throw try await failure(response) }
        let body = try API.decoder().decode(API.SessionBody.self, from: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
        let cookie = response.headers["Set-Cookie"].first.flatMap { $0.split(separator: ";").first.map(String.init) } ?? ""
        return Session(cookie: cookie, csrf: body.csrf ?? "", body: body)
    }

    /// Creates an API token with a browser session's credentials (what `hearth login` does).
    public func createToken(_ body: API.CreateTokenBody, session: Session) async throws -> API.TokenBody {
        var request = HTTPClientRequest(url: baseURL + "/v1/tokens")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Cookie", value: session.cookie)
        request.headers.add(name: "X-CSRF-Token", value: session.csrf)
        request.body = .bytes(ByteBuffer(bytes: try API.encoder().encode(body)))
        let response = try await execute(request)
        guard (200..<300).contains(response.status.code) else { throw try await failure(response) }
        return try API.decoder().decode(API.TokenBody.self, from: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
    }

    public func signOut(_ session: Session) async throws {
        var request = HTTPClientRequest(url: baseURL + "/v1/session")
        request.method = .DELETE
        request.headers.add(name: "Cookie", value: session.cookie)
        request.headers.add(name: "X-CSRF-Token", value: session.csrf)
        _ = try await execute(request)
    }

    public func whoami() async throws -> API.SessionBody { try await json(.GET, "/v1/session") }

    public func createTenant(_ name: String) async throws -> API.TenantBody {
        try await json(.POST, "/v1/tenants", body: API.CreateTenantBody(name: name))
    }

    public func createUser(_ body: API.CreateUserBody) async throws -> API.UserBody { try await json(.POST, "/v1/users", body: body) }

    public func createToken(_ body: API.CreateTokenBody) async throws -> API.TokenBody { try await json(.POST, "/v1/tokens", body: body) }

    public func tokens() async throws -> [API.TokenBody] {
        let list: API.TokenList = try await json(.GET, "/v1/tokens")
        return list.tokens
    }

    public func revokeToken(_ id: String) async throws -> API.TokenBody { try await json(.DELETE, "/v1/tokens/\(escape(id))") }

    // MARK: User lifecycle

    /// The users of the caller's tenant, or (the operator) of `tenant`.
    public func users(tenant: String? = nil) async throws -> [API.UserBody] {
        let list: API.UserList = try await json(.GET, "/v1/users" + (tenant.map { "?tenant=" + escape($0) } ?? ""))
        return list.users
    }

    /// The user with `email` in the caller's tenant or `tenant`, looked up in the list.
    public func user(email: String, tenant: String? = nil) async throws -> API.UserBody {
        guard let user = try await users(tenant: tenant).first(where: { $0.email == email.lowercased() }) else {
            throw Failure(status: 404, code: "not_found", message: "no user \(email)")
        }
        return user
    }

    public func updateUser(id: String, _ body: API.UpdateUserBody) async throws -> API.UserBody {
        try await json(.PATCH, "/v1/users/\(escape(id))", body: body)
    }

    public func deleteUser(id: String) async throws { _ = try await send(.DELETE, "/v1/users/\(escape(id))") }

    /// Resets a user's password (admins), or changes one's own (with `current`).
    public func setPassword(userId: String, _ password: String, current: String? = nil) async throws {
        _ = try await send(.PUT, "/v1/users/\(escape(userId))/password", body: API.PasswordBody(password: password, current_password: current))
    }

    /// The caller's browser sessions, or (admins) those of user `userId`.
    public func sessions(userId: String? = nil) async throws -> [API.SessionInfoBody] {
        let list: API.SessionList = try await json(.GET, "/v1/sessions" + (userId.map { "?user=" + escape($0) } ?? ""))
        return list.sessions
    }

    public func revokeSession(_ id: String) async throws { _ = try await send(.DELETE, "/v1/sessions/\(escape(id))") }

    /// Audit events as JSON lines, oldest first.
    public func auditExport(since: Date? = nil) async throws -> [API.AuditEventBody] {
        var path = "/v1/audit"
        if let since { path += "?since=" + escape(ISO8601DateFormatter().string(from: since)) }
        let buffer = try await send(.GET, path)
        let decoder = API.decoder()
        return try String(decoding: buffer.readableBytesView, as: UTF8.self).split(separator: "\n").map {
            try decoder.decode(API.AuditEventBody.self, from: Data($0.utf8))
        }
    }

    public func auditVerify() async throws -> API.AuditVerifyBody { try await json(.GET, "/v1/audit/verify") }
}
