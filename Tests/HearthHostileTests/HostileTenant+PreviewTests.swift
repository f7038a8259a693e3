import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import HummingbirdWSClient
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Attacks through previews and file contents by a member and a viewer of a second tenant, whose
/// workspace runs servers that lie about framing and set cookies for all of Hearth (issue 14,
/// findings 4, 6, 7 and 14).
@Suite(.serialized, .timeLimit(.minutes(4))) struct HostileTenantPreviewTests {
    /// Port 8771 declares 5 bytes and sends a whole second response after them; 8772 sends no
    /// length and closes; 8773 sets cookies meant for Hearth and every other preview; 8774 is a
    /// WebSocket server whose first message is 2 MiB.
    static let liars = #"""
    import socket, threading
    ANSWERS = {
        8771: b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
              b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 8\r\n\r\nSMUGGLED",
        8772: b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nunframed",
        8773: b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nSet-Cookie: hearth_session =evil; Path=/\r\n"
              b"Set-Cookie: =hearth_session=evil; Path=/\r\nSet-Cookie: HEARTH_SESSION=evil\r\n"
              b"Set-Cookie: __Host-hearth_session=evil; Secure; Path=/\r\n"
              b"Set-Cookie: tracker=1; Path=/; Domain=127.0.0.1\r\n\r\nok",
    }
    def serve(port):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", port)); s.listen()
        while True:
            c, _ = s.accept()
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk: break
                    data += chunk
                c.sendall(ANSWERS[port])
            finally:
                c.close()
    def flood():
        import base64, hashlib
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 8774)); s.listen()
        while True:
            c, _ = s.accept()
            data = b""
            while b"\r\n\r\n" not in data: data += c.recv(4096)
            key = [l.split(b":", 1)[1].strip() for l in data.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            try: c.sendall(b"\x82\x7f" + (2 << 20).to_bytes(8, "big") + b"x" * (2 << 20))
            except OSError: pass
    threading.Thread(target=flood, daemon=True).start()
    for port in ANSWERS: threading.Thread(target=serve, args=(port,), daemon=True).start()
    threading.Event().wait()
    """#

    static func setUp() async throws -> (HostileTenant, String) {
        let server = try await LiveServer.shared.value
        let tenant = try await HostileTenant.make(server)
        let w = try await tenant.member.create(API.CreateWorkspaceBody(name: "liar"))
        _ = try await tenant.member.run(w.id, ["sh", "-c", "cat > /tmp/liars.py && (python3 /tmp/liars.py > /dev/null 2>&1 &)"], stdin: Self.liars)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if Set(try await tenant.member.ports(w.id).map { Int($0.port) }).isSuperset(of: [8771, 8772, 8773, 8774]) { return (tenant, w.id) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HostileSetupFailed()
    }

    /// Opens a preview of `port` with `token`; the grant URL.
    static func open(_ tenant: HostileTenant, _ id: String, _ port: Int, token: String) async throws -> String {
        var request = HTTPClientRequest(url: tenant.server.url + "/w/\(id)/p/\(port)/")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await noRedirects.execute(request, timeout: .seconds(30))
        #expect(response.status == .found)
        return try #require(response.headers["Location"].first)
    }

    static let noRedirects = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    /// The next request on the same keep-alive connection gets its own answer, never the guest's.
    /// `smuggled`: whether the guest's bytes may legitimately be in the first response's body.
    static func followedByHealth(_ tenant: HostileTenant, _ first: String, smuggledInBody: Bool = false) async throws -> (RawHTTP.Response, [UInt8]) {
        let raw = try await RawHTTP.exchange(tenant.server.url, [
            first, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        ])
        if !smuggledInBody { #expect(!String(decoding: raw, as: UTF8.self).contains("SMUGGLED")) }
        let responses = try RawHTTP.responses(raw)
        #expect(responses.count == 2, "\(String(decoding: raw.prefix(2000), as: UTF8.self))")
        let health = try #require(responses.last)
        #expect(health.status == 200 && String(decoding: health.body, as: UTF8.self).contains("\"ok\""))
        return (try #require(responses.first), raw)
    }

    @Test func aGuestCannotAnswerTheNextRequestOnABrowsersConnection() async throws {
        let (tenant, id) = try await Self.setUp()
        defer { Task { try? await tenant.member.delete(id) } }
        for token in [tenant.memberToken, tenant.viewerToken] {
            let liar = try await Self.open(tenant, id, 8771, token: token)
            let (first, _) = try await Self.followedByHealth(tenant, "GET \(liar) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(first.status == 200 && first.body == Array("hello".utf8))

            let unframed = try await Self.open(tenant, id, 8772, token: token)
            let (second, _) = try await Self.followedByHealth(tenant, "GET \(unframed) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(second.header("transfer-encoding") == "chunked" && second.body == Array("unframed".utf8))
        }
    }

    @Test func fileContentIsFramedByHearthWhateverTheGuestReports() async throws {
        let (tenant, id) = try await Self.setUp()
        defer { Task { try? await tenant.member.delete(id) } }
        // A FIFO (stat size 0, then bytes) and a /proc file (a regular file of size 0 with content).
        // The FIFO's bytes are a whole HTTP response, which today's code sent after `Content-Length: 0`.
        let fake = #"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 8\r\n\r\nSMUGGLED"#
        _ = try await tenant.member.run(id, ["sh", "-c", "mkfifo /tmp/pipe && (printf '\(fake)' > /tmp/pipe &)"])
        for (path, token) in [("/tmp/pipe", tenant.viewerToken), ("/proc/version", tenant.memberToken)] {
            let (file, _) = try await Self.followedByHealth(tenant, "GET /v1/workspaces/\(id)/files/content?path=\(path) HTTP/1.1\r\n"
                                                                    + "Host: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n",
                                                            smuggledInBody: true)
            #expect(file.status == 200 && !file.body.isEmpty, "\(path)")
            if path == "/tmp/pipe" { #expect(String(decoding: file.body, as: UTF8.self).hasSuffix("SMUGGLED")) }
            #expect(file.header("content-length") == nil, "\(path): a size the guest reported as 0 is not promised")
        }
    }

    @Test func aGuestCannotSetCookiesForHearthOrOtherPreviews() async throws {
        let (tenant, id) = try await Self.setUp()
        defer { Task { try? await tenant.member.delete(id) } }
        let grant = try await Self.open(tenant, id, 8773, token: tenant.viewerToken)
        let response = try await Self.noRedirects.execute(HTTPClientRequest(url: tenant.server.url + grant), timeout: .seconds(30))
        #expect(response.status == .ok)
        #expect(response.headers["Set-Cookie"] == ["tracker=1; Path=/w/\(id)/p/8773/"])
    }

    @Test func aGrantEndsWithTheTokenThatOpenedIt() async throws {
        let (tenant, id) = try await Self.setUp()
        defer { Task { try? await tenant.member.delete(id) } }
        let extra = try await tenant.server.client.createToken(API.CreateTokenBody(name: "preview", tenant: tenant.tenant,
                                                                                  user: "m@\(tenant.tenant).test"))
        let secret = try #require(extra.token)
        let grant = try await Self.open(tenant, id, 8771, token: secret)
        let before = try await Self.noRedirects.execute(HTTPClientRequest(url: tenant.server.url + grant), timeout: .seconds(30))
        #expect(before.status == .ok)
        _ = try await HearthClient(baseURL: tenant.server.url, token: secret).revokeToken(extra.id)
        let after = try await Self.noRedirects.execute(HTTPClientRequest(url: tenant.server.url + grant), timeout: .seconds(30))
        #expect(after.status == .unauthorized, "a revoked token's preview link must stop working")
        // The member's other grants stand.
        let other = try await Self.open(tenant, id, 8771, token: tenant.memberToken)
        #expect(try await Self.noRedirects.execute(HTTPClientRequest(url: tenant.server.url + other), timeout: .seconds(30)).status == .ok)
    }

    @Test func aGrantEndsWhenTheSessionThatOpenedItSignsOut() async throws {
        let (tenant, id) = try await Self.setUp()
        defer { Task { try? await tenant.member.delete(id) } }
        let session = try await tenant.member.signIn(email: "v@\(tenant.tenant).test", password: "a long password")
        var opening = HTTPClientRequest(url: tenant.server.url + "/w/\(id)/p/8771/")
        opening.headers.add(name: "Cookie", value: session.cookie)
        let opened = try await Self.noRedirects.execute(opening, timeout: .seconds(30))
        let grant = try #require(opened.headers["Location"].first)
        #expect(try await Self.noRedirects.execute(HTTPClientRequest(url: tenant.server.url + grant), timeout: .seconds(30)).status == .ok)
        try await tenant.member.signOut(session)
        #expect(try await Self.noRedirects.execute(HTTPClientRequest(url: tenant.server.url + grant), timeout: .seconds(30)).status == .unauthorized,
                "signing out ends the previews the session opened")
    }

    @Test func aGuestsOversizedWebSocketMessageClosesTheSocketWith1009() async throws {
        let (tenant, id) = try await Self.setUp()
        defer { Task { try? await tenant.member.delete(id) } }
        let grant = try await Self.open(tenant, id, 8774, token: tenant.memberToken)
        let received = Mutex(0)
        // The client would take 4 MiB: the cap that closes the socket is the server's.
        let close = try await WebSocketClient.connect(url: tenant.server.url.replacingOccurrences(of: "http://", with: "ws://") + grant + "socket",
                                                      configuration: .init(maxFrameSize: 4 << 20), logger: Logger(label: "test")) { inbound, _, _ in
            for try await message in inbound.messages(maxSize: 4 << 20) {
                if case .binary(let bytes) = message { received.withLock { $0 += bytes.readableBytes } }
            }
        }
        #expect(close?.closeCode == .messageTooLarge)
        #expect(received.withLock { $0 } == 0, "the 2 MiB message is never held whole and relayed")
    }

    /// One request with `Host: host` on a fresh connection.
    static func raw(_ server: LiveServer, host: String, _ path: String, headers: [String] = []) async throws -> RawHTTP.Response {
        let head = (["GET \(path) HTTP/1.1", "Host: \(host)", "Connection: close"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        return try #require(try RawHTTP.responses(try await RawHTTP.exchange(server.url, [head])).first)
    }

    @Test func withAPreviewDomainEachPreviewIsAnOriginOfItsOwn() async throws {
        let server = try await LiveServer.start { $0.previewDomain = "preview.test" }
        let tenant = try await HostileTenant.make(server)
        let w = try await tenant.member.create(API.CreateWorkspaceBody(name: "liar"))
        defer { Task { try? await tenant.member.delete(w.id) } }
        _ = try await tenant.member.run(w.id, ["sh", "-c", "cat > /tmp/liars.py && (python3 /tmp/liars.py > /dev/null 2>&1 &)"], stdin: Self.liars)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, !Set(try await tenant.member.ports(w.id).map(\.port)).isSuperset(of: [8773, 8774]) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let host = "\(w.id.dropFirst(3))-8773.preview.test"
        // Opening on Hearth's origin sends the browser to the preview's own origin.
        let opened = try await Self.open(tenant, w.id, 8773, token: tenant.viewerToken)
        #expect(opened.hasPrefix("http://\(host)/~"))
        let path = String(opened.dropFirst("http://\(host)".count))
        let key = String(path.dropFirst(2).prefix { $0 != "/" })
        // Hearth's origin no longer serves the workspace; the grant URL there redirects too.
        let onMain = try await Self.noRedirects.execute(HTTPClientRequest(url: server.url + "/w/\(w.id)/p/8773/~\(key)/x"), timeout: .seconds(30))
        #expect(onMain.status == .found && onMain.headers["Location"].first == "http://\(host)/~\(key)/x")

        // The first visit trades the path grant for a host-only cookie.
        let first = try await Self.raw(server, host: host, path)
        #expect(first.status == 302 && first.header("location") == "/")
        let cookie = try #require(first.header("set-cookie"))
        #expect(cookie.hasPrefix("hearth_preview=\(key);") && cookie.contains("HttpOnly") && !cookie.lowercased().contains("domain"))

        let page = try await Self.raw(server, host: host, "/", headers: ["Cookie: hearth_preview=\(key)"])
        #expect(page.status == 200 && page.body == Array("ok".utf8))
        #expect(page.header("content-security-policy") == nil, "its own origin needs no opaque-origin sandbox")
        #expect(page.headers.filter { $0.0.lowercased() == "set-cookie" }.map(\.1) == ["tracker=1; Path=/"])

        // Nothing of Hearth's API answers on a preview origin, with or without the grant.
        let api = try await Self.raw(server, host: host, "/v1/workspaces", headers: ["Authorization: Bearer \(tenant.memberToken)"])
        #expect(api.status == 401)
        let proxied = try await Self.raw(server, host: host, "/v1/workspaces", headers: ["Cookie: hearth_preview=\(key)"])
        #expect(String(decoding: proxied.body, as: UTF8.self) == "ok", "the guest answers, not Hearth")

        // A page's WebSocket on its own origin reaches the guest, with the grant cookie as credential
        // (8774's first message is 2 MiB: the relay closes with 1009, which proves it was relayed).
        let wsHost = "\(w.id.dropFirst(3))-8774.preview.test"
        let wsOpened = try await Self.open(tenant, w.id, 8774, token: tenant.memberToken)
        let wsKey = String(wsOpened.dropFirst("http://\(wsHost)/~".count).prefix { $0 != "/" })
        let upgrade = { (host: String, path: String, headers: [String]) in
            (["GET \(path) HTTP/1.1", "Host: \(host)", "Upgrade: websocket", "Connection: Upgrade",
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        }
        let socket = try await RawHTTP.exchange(server.url, [upgrade(wsHost, "/socket", ["Cookie: hearth_preview=\(wsKey)"])], deadline: .seconds(5))
        #expect(String(decoding: socket.prefix(12), as: UTF8.self) == "HTTP/1.1 101")
        #expect(socket.firstRange(of: [0x03, 0xF1]) != nil, "closed with 1009 after the guest's oversized message")
        // Hearth's own WebSocket routes do not answer on a preview host, whatever the credential.
        let exec = try await RawHTTP.exchange(server.url, [upgrade(wsHost, "/v1/workspaces/\(w.id)/exec",
                                                                   ["Authorization: Bearer \(tenant.memberToken)", "Connection: close"])],
                                              deadline: .seconds(5))
        #expect(!String(decoding: exec.prefix(12), as: UTF8.self).hasSuffix("101"))
        let noGrant = try await RawHTTP.exchange(server.url, [upgrade(wsHost, "/socket", ["Connection: close"])], deadline: .seconds(5))
        #expect(!String(decoding: noGrant.prefix(12), as: UTF8.self).hasSuffix("101"))
        // Nor is the path form served on Hearth's origin any more.
        let pathForm = try await RawHTTP.exchange(server.url, [upgrade("127.0.0.1", "/w/\(w.id)/p/8774/~\(wsKey)/socket", ["Connection: close"])],
                                                  deadline: .seconds(5))
        #expect(!String(decoding: pathForm.prefix(12), as: UTF8.self).hasSuffix("101"))

        // The grant is for this host only: another port's origin refuses it, as does a made-up one.
        #expect(try await Self.raw(server, host: "\(w.id.dropFirst(3))-8771.preview.test", "/", headers: ["Cookie: hearth_preview=\(key)"]).status == 401)
        #expect(try await Self.raw(server, host: host, "/", headers: ["Cookie: hearth_preview=\(String(repeating: "0", count: 32))"]).status == 401)
    }
}
