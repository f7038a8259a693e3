import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HearthAPI
import HearthClient
import HearthServer
import HearthServerTestKit
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// Issue 14 #9-#11 and the missing rate limits, over real sockets against servers of their own
/// (no sandbox is needed): header and idle timeouts, the per-address connection cap, token
/// buckets with 429 and Retry-After, and X-Forwarded-For honoured only from trusted proxies.
/// The runtime is the test kit's ProcessRuntime: no sandbox, no root.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServerLimitsTests {
    static func serve(_ configure: (inout HearthServerConfiguration) -> Void) async throws -> LiveServer {
        try await LiveServer.scratch("limits", configure: configure)
    }

    /// Short timeouts, a generous cap.
    static let timeouts = Task { try await ServerLimitsTests.serve { $0.limits.headerTimeout = .seconds(1); $0.limits.idleTimeout = .seconds(2) } }
    /// A cap of 4 connections per address, a small token bucket, long timeouts.
    static let capped = Task {
        try await ServerLimitsTests.serve {
            $0.limits.maxConnectionsPerAddress = 4
            $0.limits.perCredential = RateRule(burst: 10, perSecond: 1)
        }
    }
    /// Trusts loopback as its TLS proxy.
    static let proxied = Task { try await ServerLimitsTests.serve { $0.limits.trustedProxies = ["127.0.0.0/8"] } }

    @Test func aSilentConnectionIsClosedWithinTheHeaderTimeout() async throws {
        let server = try await Self.timeouts.value
        let socket = try await RawSocket.connect(server.url)
        defer { socket.close() }
        let start = ContinuousClock.now
        #expect(await socket.waitForClose(within: .seconds(15)), "a silent connection is closed")
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func aDrippedRequestHeadIsClosedWithinTheHeaderTimeout() async throws {
        let server = try await Self.timeouts.value
        let socket = try await RawSocket.connect(server.url)
        defer { socket.close() }
        socket.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        #expect(await socket.waitForClose(within: .seconds(15)), "a head that never ends is cut off")
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        let server = try await Self.timeouts.value
        let socket = try await RawSocket.connect(server.url)
        defer { socket.close() }
        socket.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = await socket.receive(within: .seconds(10))
        #expect(response.hasPrefix("HTTP/1.1 200"))
        #expect(await socket.waitForClose(within: .seconds(20)), "an idle keep-alive connection is closed")
    }

    @Test func aConnectionPastThePerAddressCapIsRefusedAndTheSlotComesBack() async throws {
        let server = try await Self.capped.value
        // Other tests' pooled client connections may hold slots too, so open until refused.
        var held: [RawSocket] = []
        var refused = false
        for _ in 0..<6 where !refused {
            let socket = try await RawSocket.connect(server.url)
            socket.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            if await socket.receive(within: .seconds(10)).hasPrefix("HTTP/1.1 200") {
                held.append(socket)
            } else {
                #expect(await socket.waitForClose(within: .seconds(10)), "a connection past the cap is closed")
                socket.close()
                refused = true
            }
        }
        #expect(refused, "the cap of 4 is enforced")
        #expect(held.count <= 4)
        for socket in held { socket.close() }
        // Once they are closed, a new connection is served again.
        let deadline = ContinuousClock.now + .seconds(20)
        var served = false
        while !served, ContinuousClock.now < deadline {
            let again = try await RawSocket.connect(server.url)
            again.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            served = await again.receive(within: .seconds(2)).hasPrefix("HTTP/1.1 200")
            again.close()
            if !served { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(served)
    }

    @Test func aCredentialPastItsRateGets429WithRetryAfter() async throws {
        let server = try await Self.capped.value
        let token = try await server.client.createToken(API.CreateTokenBody(name: "fresh")).token
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<30 {
            var request = HTTPClientRequest(url: server.url + "/v1/session")
            request.headers.add(name: "Authorization", value: "Bearer \(server.token)")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            statuses.append(Int(response.status.code))
            if response.status.code == 429 { retryAfter = response.headers["Retry-After"].first }
        }
        #expect(statuses.prefix(9).allSatisfy { $0 == 200 })
        #expect(statuses.contains(429))
        #expect(retryAfter.flatMap { Int($0) }.map { $0 >= 1 } == true)
        // Another credential has its own bucket.
        #expect(try await HearthClient(baseURL: server.url, token: token).whoami().user == "admin")
    }

    /// Behind a trusted proxy, backoff and the audit log follow the client X-Forwarded-For names:
    /// one client's failures do not slow another's sign-in through the same proxy.
    @Test func forwardedForIsHonouredFromATrustedProxy() async throws {
        let server = try await Self.proxied.value
        let email = "p-\(UUID().uuidString.prefix(6).lowercased())@example.test"
        _ = try await server.client.createUser(API.CreateUserBody(email: email, tenant: nil, role: "member", password: "the right password"))
        func signIn(_ password: String, from client: String) async throws -> Int {
            var request = HTTPClientRequest(url: server.url + "/v1/session")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Forwarded-For", value: "\(client), 127.0.0.1")
            request.body = .bytes(ByteBuffer(string: #"{"email":"\#(email)","password":"\#(password)"}"#))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        }
        for _ in 0..<3 { #expect(try await signIn("guess", from: "203.0.113.7") == 401) }
        #expect(try await signIn("the right password", from: "203.0.113.7") == 429)
        #expect(try await signIn("the right password", from: "203.0.113.8") == 200)
        let events = try await server.client.auditExport()
        #expect(events.contains { $0.action == "signin.failure" && $0.target == email && $0.source_ip == "203.0.113.7" })
    }

    @Test func forwardedForIsIgnoredFromAnyoneElse() async throws {
        let server = try await Self.timeouts.value
        let marker = "xff-\(UUID().uuidString.prefix(6).lowercased())@example.test"
        var request = HTTPClientRequest(url: server.url + "/v1/session")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Forwarded-For", value: "198.51.100.1")
        request.body = .bytes(ByteBuffer(string: #"{"email":"\#(marker)","password":"wrong password"}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        let event = try #require(try await server.client.auditExport().last { $0.target == marker })
        #expect(event.source_ip == "127.0.0.1")
    }
}
