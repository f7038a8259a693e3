import AsyncHTTPClient
import Foundation
import GRDB
import HearthAPI
import HearthClient
import HearthCore
import HearthIdentity
import HearthServer
import HearthServerTestKit
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// Sign-in, sessions, CSRF, WebSocket origins, token lifetimes, roles and the audit log, over
/// real HTTP against a server of its own whose runtime is the test kit's ProcessRuntime (no
/// sandbox, no root).
@Suite(.serialized, .timeLimit(.minutes(5))) struct AuthTests {
    struct Server: Sendable {
        let service: HearthService
        let url: String
        let admin: HearthClient
        let password: String
        let data: String
    }

    static let server = Task { () throws -> Server in
        let live = try await LiveServer.scratch("auth")
        let data = live.dataDirectory
        let password = try String(contentsOfFile: data + "/admin.password", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return Server(service: live.service, url: live.url, admin: live.client, password: password, data: data)
    }

    static func request(_ server: Server, _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [],
                        body: String? = nil) async throws -> (Int, String, HTTPHeaders) {
        var request = HTTPClientRequest(url: server.url + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return (Int(response.status.code), text, response.headers)
    }

    @Test func firstStartWritesTheAdminPasswordPrivately() async throws {
        let server = try await Self.server.value
        let mode = try FileManager.default.attributesOfItem(atPath: server.data + "/admin.password")[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(server.password.count >= 16)
        let me = try await server.admin.whoami()
        #expect(me.user == "admin" && me.tenant == "default" && me.role == "admin" && me.csrf == nil)
    }

    @Test func aBrowserSessionIsAStrictHttpOnlyCookieAndNeedsItsCSRFToken() async throws {
        let server = try await Self.server.value
        let session = try await server.admin.signIn(email: "admin", password: server.password)
        let (_, _, headers) = try await Self.request(server, .POST, "/v1/session",
                                                     body: #"{"email":"admin","password":"\#(server.password)"}"#)
        let cookie = try #require(headers["Set-Cookie"].first)
        #expect(cookie.hasPrefix("hearth_session=hss_"))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))

        let (listed, _, _) = try await Self.request(server, .GET, "/v1/workspaces", headers: [("Cookie", session.cookie)])
        #expect(listed == 200)
        // A state change without the token is refused before it is parsed or run.
        let (refused, body, _) = try await Self.request(server, .POST, "/v1/tokens", headers: [("Cookie", session.cookie)],
                                                        body: #"{"name":"x"}"#)
        #expect(refused == 403 && body.contains("CSRF"))
        let (wrong, _, _) = try await Self.request(server, .POST, "/v1/tokens", headers: [("Cookie", session.cookie), ("X-CSRF-Token", "nope")],
                                                   body: #"{"name":"x"}"#)
        #expect(wrong == 403)
        let token = try await server.admin.createToken(API.CreateTokenBody(name: "from-session"), session: session)
        #expect(token.token?.hasPrefix("hth_") == true)
        try await server.admin.signOut(session)
        let (after, _, _) = try await Self.request(server, .GET, "/v1/workspaces", headers: [("Cookie", session.cookie)])
        #expect(after == 401)
    }

    /// The HTTP status of a WebSocket handshake, sent raw with curl (HTTP clients refuse to send one).
    static func handshake(_ url: String, headers: [(String, String)]) throws -> Int {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                          "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
                          "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="] + headers.flatMap { ["-H", "\($0.0): \($0.1)"] } + [url]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        return Int(text) ?? 0
    }

    @Test func aCookieWebSocketMustComeFromThisOrigin() async throws {
        let server = try await Self.server.value
        let session = try await server.admin.signIn(email: "admin", password: server.password)
        let host = server.url.replacingOccurrences(of: "http://", with: "")
        let url = server.url + "/v1/workspaces/nope/ws"
        for origin in ["https://evil.example", "http://\(host).evil.example", nil] as [String?] {
            let headers = [("Cookie", session.cookie)] + (origin.map { [("Origin", $0)] } ?? [])
            // Refused before the upgrade. The WebSocket upgrader answers every refusal with a bare 400.
            #expect(try Self.handshake(url, headers: headers) == 400, "origin \(origin ?? "none")")
        }
        // Its own origin upgrades (the unknown workspace is then reported on the socket).
        #expect(try Self.handshake(url, headers: [("Cookie", session.cookie), ("Origin", server.url)]) == 101)
        // A bearer token is not ambient, so a CLI's WebSocket needs no Origin.
        #expect(try Self.handshake(url, headers: [("Authorization", "Bearer \(server.admin.token!)")]) == 101)
    }

    @Test func expiredRevokedAndForeignTokensAreRefusedWithAReason() async throws {
        let server = try await Self.server.value
        let identity = server.service.identity
        let admin = try #require(try identity.user(email: "admin", tenantId: Tenancy.defaultTenantID))
        let past = Date().addingTimeInterval(-7200)
        let (_, expired) = try identity.createToken(name: "old", for: admin, expiresAt: past.addingTimeInterval(60), now: past)
        let (info, revoked) = try identity.createToken(name: "soon-revoked", for: admin)
        _ = try await server.admin.revokeToken(info.id)
        for (token, reason) in [(expired, "this token has expired"), (revoked, "this token has been revoked")] {
            do {
                _ = try await HearthClient(baseURL: server.url, token: token).list()
                Issue.record("expected 401")
            } catch let failure as HearthClient.Failure {
                #expect(failure.status == 401 && failure.message == reason)
            }
        }
        #expect(try await server.admin.tokens().first { $0.id == info.id }?.revoked_at != nil)
    }

    @Test func viewersReadButChangeNothing() async throws {
        let server = try await Self.server.value
        let email = "viewer-\(UUID().uuidString.prefix(6).lowercased())@example.test"
        _ = try await server.admin.createUser(API.CreateUserBody(email: email, tenant: nil, role: "viewer", password: "a long password"))
        let token = try await server.admin.createToken(API.CreateTokenBody(name: "v", user: email))
        #expect(token.role == "viewer")
        let viewer = HearthClient(baseURL: server.url, token: token.token)
        _ = try await viewer.list()
        for call in [{ _ = try await viewer.create(API.CreateWorkspaceBody(name: "nope")) },
                     { _ = try await viewer.createToken(API.CreateTokenBody(name: "escalate", role: "admin")) },
                     { _ = try await viewer.createTenant("mine") }] as [() async throws -> Void] {
            do {
                try await call()
                Issue.record("expected 403")
            } catch let failure as HearthClient.Failure {
                #expect(failure.status == 403 && failure.code == "forbidden")
            }
        }
    }

    @Test func onlyTheOperatorMakesTenantsAndAMemberCannotMintAnAdminToken() async throws {
        let server = try await Self.server.value
        let name = "t-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try await server.admin.createTenant(name)
        _ = try await server.admin.createUser(API.CreateUserBody(email: "boss@\(name).test", tenant: name, role: "admin", password: "a long password"))
        let boss = HearthClient(baseURL: server.url, token: try await server.admin.createToken(API.CreateTokenBody(name: "b", tenant: name, user: "boss@\(name).test")).token)
        #expect(try await boss.whoami().tenant == name)
        // A tenant's admin manages its own tenant only.
        for call in [{ _ = try await boss.createTenant("other-\(name)") },
                     { _ = try await boss.createUser(API.CreateUserBody(email: "x@y.test", tenant: "default", role: "admin", password: "a long password")) },
                     { _ = try await boss.auditVerify() }] as [() async throws -> Void] {
            do {
                try await call()
                Issue.record("expected 403")
            } catch let failure as HearthClient.Failure {
                #expect(failure.status == 403)
            }
        }
        _ = try await boss.createUser(API.CreateUserBody(email: "dev@\(name).test", tenant: nil, role: "member", password: "a long password"))
        let dev = HearthClient(baseURL: server.url, token: try await boss.createToken(API.CreateTokenBody(name: "d", user: "dev@\(name).test")).token)
        do {
            _ = try await dev.createToken(API.CreateTokenBody(name: "up", role: "admin"))
            Issue.record("expected 403")
        } catch let failure as HearthClient.Failure {
            #expect(failure.status == 403)
        }
        // Tokens of another tenant are "not found" to its admins, never "forbidden".
        let mine = try await dev.createToken(API.CreateTokenBody(name: "own"))
        let other = "o-\(name)"
        _ = try await server.admin.createTenant(other)
        _ = try await server.admin.createUser(API.CreateUserBody(email: "boss@\(other).test", tenant: other, role: "admin", password: "a long password"))
        let otherBoss = HearthClient(baseURL: server.url, token: try await server.admin.createToken(
            API.CreateTokenBody(name: "b", tenant: other, user: "boss@\(other).test")).token)
        do {
            _ = try await otherBoss.revokeToken(mine.id)
            Issue.record("expected 404")
        } catch let failure as HearthClient.Failure {
            #expect(failure.status == 404)
        }
        #expect(try await dev.tokens().allSatisfy { $0.user == "dev@\(name).test" })
    }

    @Test func repeatedFailedSignInsAreThrottled() async throws {
        let server = try await Self.server.value
        let email = "victim-\(UUID().uuidString.prefix(6).lowercased())@example.test"
        _ = try await server.admin.createUser(API.CreateUserBody(email: email, tenant: nil, role: "member", password: "the right password"))
        for _ in 0..<3 {
            let (status, _, _) = try await Self.request(server, .POST, "/v1/session", body: #"{"email":"\#(email)","password":"guess"}"#)
            #expect(status == 401)
        }
        // This address now waits before its next try, and is told how long.
        let (status, body, headers) = try await Self.request(server, .POST, "/v1/session", body: #"{"email":"\#(email)","password":"the right password"}"#)
        #expect(status == 429 && body.contains("too many failed sign-ins"))
        #expect(headers["Retry-After"].first.flatMap { Int($0) }.map { $0 >= 1 } == true)
    }

    @Test func theAuditLogRecordsActionsWithoutSecretsAndDetectsTampering() async throws {
        let server = try await Self.server.value
        let marker = "audit-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try? await Self.request(server, .POST, "/v1/session", body: #"{"email":"\#(marker)@x.test","password":"wrong"}"#)
        let session = try await server.admin.signIn(email: "admin", password: server.password)
        let created = try await server.admin.createToken(API.CreateTokenBody(name: marker))
        _ = try await server.admin.revokeToken(created.id)
        _ = try? await server.admin.get(marker)

        let events = try await server.admin.auditExport()
        let actions = Set(events.map(\.action))
        #expect(actions.isSuperset(of: ["signin.failure", "signin", "token.create", "token.revoke"]))
        let failure = try #require(events.last { $0.action == "signin.failure" && $0.target == "\(marker)@x.test" })
        #expect(failure.actor == "anonymous" && failure.result == "unauthorized" && failure.source_ip == "127.0.0.1")
        let revoke = try #require(events.last { $0.action == "token.revoke" && $0.target == created.id })
        #expect(revoke.actor == "admin" && revoke.tenant == "default" && revoke.result == "ok")
        let everything = events.map { "\($0)" }.joined()
        #expect(!everything.contains(created.token!) && !everything.contains(server.password) && !everything.contains(session.csrf))
        #expect(try await server.admin.auditExport(since: Date().addingTimeInterval(3600)).isEmpty)
        #expect(try await server.admin.auditVerify().ok)

        // Edit one event behind the server's back: verify names it.
        let db = try DatabaseQueue(path: server.data + "/audit.sqlite")
        try await db.write { db in
            try db.execute(sql: "UPDATE auditEvent SET actor = 'someone-else' WHERE seq = ?", arguments: [revoke.seq])
        }
        let verdict = try await server.admin.auditVerify()
        #expect(!verdict.ok)
        #expect(verdict.problems.contains("event \(revoke.seq) was edited: its content does not match its hash"))
        try await db.write { db in
            try db.execute(sql: "UPDATE auditEvent SET actor = 'admin' WHERE seq = ?", arguments: [revoke.seq])
        }
        #expect(try await server.admin.auditVerify().ok)
    }

    @Test func theWebIDEIsServedWithItsLibrariesAndAStrictPolicy() async throws {
        let server = try await Self.server.value
        let (status, html, headers) = try await Self.request(server, .GET, "/")
        #expect(status == 200 && html.contains("/static/app.js") && html.contains("/vendor/xterm-bundle.js"))
        #expect(headers["Content-Security-Policy"].first?.contains("default-src 'self'") == true)
        for path in ["/static/app.js", "/static/app.css", "/vendor/codemirror/lib/codemirror.js", "/vendor/xterm/xterm.css"] {
            #expect(try await Self.request(server, .GET, path).0 == 200, "\(path)")
        }
        let (bundle, script, _) = try await Self.request(server, .GET, "/vendor/xterm-bundle.js")
        #expect(bundle == 200 && script.contains("window.Terminal = Terminal"))
        #expect(script.contains("function proposeGeometry"), "the fit addon sizes terminals to their element")
        for path in ["/static/../admin.token", "/vendor/xterm/../../../etc/passwd", "/vendor/nope/x.js"] {
            #expect(try await Self.request(server, .GET, path).0 == 404, "\(path)")
        }
    }
}
