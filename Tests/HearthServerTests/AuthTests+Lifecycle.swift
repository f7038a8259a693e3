import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthAudit
import HearthClient
import NIOCore
import NIOHTTP1
import Testing

/// Issue 14 #12, #13, #17 and the user lifecycle, on `AuthTests`' server.
extension AuthTests {
    /// #13: a cross-site form posts text/plain (no preflight); the sign-in must refuse it and set no cookie.
    @Test func signInRefusesNonJSONBodiesAndForeignOrigins() async throws {
        let server = try await Self.server.value
        let body = #"{"email":"admin","password":"\#(server.password)"}"#
        for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil] as [String?] {
            var request = HTTPClientRequest(url: server.url + "/v1/session")
            request.method = .POST
            if let type { request.headers.add(name: "Content-Type", value: type) }
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            #expect(response.status.code == 400, "\(type ?? "no type")")
            #expect(response.headers["Set-Cookie"].isEmpty)
        }
        let (foreign, _, headers) = try await Self.request(server, .POST, "/v1/session", headers: [("Origin", "https://evil.example")], body: body)
        #expect(foreign == 403 && headers["Set-Cookie"].isEmpty)
        let (own, _, ownHeaders) = try await Self.request(server, .POST, "/v1/session", headers: [("Origin", server.url)], body: body)
        #expect(own == 200 && !ownHeaders["Set-Cookie"].isEmpty)
        let (charset, _, _) = try await Self.request(server, .POST, "/v1/session", headers: [], body: body)
        #expect(charset == 200)
    }

    /// #17: the operator can create a token in another tenant, and so revoke it.
    @Test func theOperatorRevokesATokenItCreatedInAnotherTenant() async throws {
        let server = try await Self.server.value
        let name = "r-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try await server.admin.createTenant(name)
        _ = try await server.admin.createUser(API.CreateUserBody(email: "m@\(name).test", tenant: name, role: "member", password: "a long password"))
        let token = try await server.admin.createToken(API.CreateTokenBody(name: "leak", tenant: name, user: "m@\(name).test"))
        let member = HearthClient(baseURL: server.url, token: token.token)
        _ = try await member.whoami()
        let revoked = try await server.admin.revokeToken(token.id)
        #expect(revoked.revoked_at != nil)
        await #expect(throws: HearthClient.Failure.self) { _ = try await member.whoami() }
    }

    @Test func disablingAUserEndsTheirTokensAndSessionsOverHTTP() async throws {
        let server = try await Self.server.value
        let email = "life-\(UUID().uuidString.prefix(6).lowercased())@example.test"
        let user = try await server.admin.createUser(API.CreateUserBody(email: email, tenant: nil, role: "member", password: "a long password"))
        let token = try await server.admin.createToken(API.CreateTokenBody(name: "t", user: email))
        let client = HearthClient(baseURL: server.url, token: token.token)
        let session = try await client.signIn(email: email, password: "a long password")
        #expect(try await server.admin.sessions(userId: user.id).count == 1)
        #expect(try await client.sessions().count == 1)

        let disabled = try await server.admin.updateUser(id: user.id, API.UpdateUserBody(disabled: true))
        #expect(disabled.disabled_at != nil)
        await #expect(throws: HearthClient.Failure.self) { _ = try await client.whoami() }
        let (afterSession, _, _) = try await Self.request(server, .GET, "/v1/workspaces", headers: [("Cookie", session.cookie)])
        #expect(afterSession == 401)
        let (signIn, _, _) = try await Self.request(server, .POST, "/v1/session", body: #"{"email":"\#(email)","password":"a long password"}"#)
        #expect(signIn == 401)

        // Enabled again with a reset password and a fresh token; a demotion applies at once.
        _ = try await server.admin.updateUser(id: user.id, API.UpdateUserBody(disabled: false))
        try await server.admin.setPassword(userId: user.id, "another long password")
        let fresh = HearthClient(baseURL: server.url, token: try await server.admin.createToken(API.CreateTokenBody(name: "t2", user: email)).token)
        #expect(try await fresh.whoami().role == "member")
        _ = try await server.admin.updateUser(id: user.id, API.UpdateUserBody(role: "viewer"))
        #expect(try await fresh.whoami().role == "viewer")
        // A session is listed and revoked; then the user is deleted with their credentials.
        let again = try await fresh.signIn(email: email, password: "another long password")
        let listed = try await server.admin.sessions(userId: user.id)
        #expect(listed.count == 1)
        try await server.admin.revokeSession(try #require(listed.first).id)
        let (revoked, _, _) = try await Self.request(server, .GET, "/v1/workspaces", headers: [("Cookie", again.cookie)])
        #expect(revoked == 401)
        try await server.admin.deleteUser(id: user.id)
        await #expect(throws: HearthClient.Failure.self) { _ = try await fresh.whoami() }
        #expect(try await server.admin.users().allSatisfy { $0.email != email })
        let actions = Set(try await server.admin.auditExport().filter { $0.target == email }.map(\.action))
        #expect(actions.isSuperset(of: ["user.disable", "user.enable", "user.password.reset", "user.role", "session.revoke", "user.delete"]))
    }

    @Test func aTenantAdminCannotReachAnotherTenantsUsersAndAMemberNone() async throws {
        let server = try await Self.server.value
        let name = "u-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try await server.admin.createTenant(name)
        _ = try await server.admin.createUser(API.CreateUserBody(email: "boss@\(name).test", tenant: name, role: "admin", password: "a long password"))
        _ = try await server.admin.createUser(API.CreateUserBody(email: "dev@\(name).test", tenant: name, role: "member", password: "a long password"))
        let boss = HearthClient(baseURL: server.url, token: try await server.admin.createToken(
            API.CreateTokenBody(name: "b", tenant: name, user: "boss@\(name).test")).token)
        let dev = HearthClient(baseURL: server.url, token: try await server.admin.createToken(
            API.CreateTokenBody(name: "d", tenant: name, user: "dev@\(name).test")).token)
        let operatorUser = try await server.admin.user(email: "admin")
        for call in [{ _ = try await boss.updateUser(id: operatorUser.id, API.UpdateUserBody(disabled: true)) },
                     { try await boss.deleteUser(id: operatorUser.id) },
                     { try await boss.setPassword(userId: operatorUser.id, "taken over now") },
                     { _ = try await boss.sessions(userId: operatorUser.id) }] as [() async throws -> Void] {
            do {
                try await call()
                Issue.record("expected 404")
            } catch let failure as HearthClient.Failure {
                #expect(failure.status == 404)
            }
        }
        let devUser = try await boss.user(email: "dev@\(name).test")
        for call in [{ _ = try await dev.users() },
                     { _ = try await dev.updateUser(id: devUser.id, API.UpdateUserBody(role: "admin")) }] as [() async throws -> Void] {
            do {
                try await call()
                Issue.record("expected 403")
            } catch let failure as HearthClient.Failure {
                #expect(failure.status == 403)
            }
        }
        // The operator account survives even the operator's own attempt.
        await #expect(throws: HearthClient.Failure.self) { _ = try await server.admin.updateUser(id: operatorUser.id, API.UpdateUserBody(disabled: true)) }
    }

    /// #8: the export streams page by page; every event arrives once, in order, across pages.
    @Test func theAuditExportStreamsAcrossPages() async throws {
        let server = try await Self.server.value
        for i in 0..<1_100 {
            try server.service.audit.append(AuditRecord(tenant: "default", actor: "admin", action: "test.page", target: "p\(i)"))
        }
        let events = try await server.admin.auditExport()
        let seqs = events.map(\.seq)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
        #expect(events.filter { $0.action == "test.page" }.count == 1_100)
        #expect(try await server.admin.auditVerify().ok)
    }
}
