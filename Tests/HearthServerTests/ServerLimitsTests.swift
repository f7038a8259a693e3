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
        let data = NSTemporaryDirectory() + "hearth-limits-\(UUID().uuidString.prefix(8))"
        ScratchDirectories.removeAtExit(data)
        var logger = Logger(label: "hearth.test")
        logger.logLevel = .critical
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        configure(&configuration)
        return try await LiveServer.serveInProcess(configuration, logger: logger)
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
        let socket = try RawSocket(url: server.url)
        defer { socket.close() }
        let start = ContinuousClock.now
        #expect(socket.waitForClose(within: .seconds(15)), "a silent connection is closed")
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func aDrippedRequestHeadIsClosedWithinTheHeaderTimeout() async throws {
        let server = try await Self.timeouts.value
        let socket = try RawSocket(url: server.url)
        defer { socket.close() }
        socket.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        #expect(socket.waitForClose(within: .seconds(15)), "a head that never ends is cut off")
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        let server = try await Self.timeouts.value
        let socket = try RawSocket(url: server.url)
        defer { socket.close() }
        socket.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = socket.receive(within: .seconds(10))
        #expect(response.hasPrefix("HTTP/1.1 200"))
        #expect(socket.waitForClose(within: .seconds(20)), "an idle keep-alive connection is closed")
    }

    @Test func aConnectionPastThePerAddressCapIsRefusedAndTheSlotComesBack() async throws {
        let server = try await Self.capped.value
        // Other tests' pooled client connections may hold slots too, so open until refused.
        var held: [RawSocket] = []
        var refused = false
        for _ in 0..<6 where !refused {
            let socket = try RawSocket(url: server.url)
            socket.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            if socket.receive(within: .seconds(10)).hasPrefix("HTTP/1.1 200") {
                held.append(socket)
            } else {
                #expect(socket.waitForClose(within: .seconds(10)), "a connection past the cap is closed")
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
            let again = try RawSocket(url: server.url)
            again.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            served = again.receive(within: .seconds(2)).hasPrefix("HTTP/1.1 200")
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

/// A plain TCP client, for what HTTP clients will not do: stay silent, drip, hold connections.
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    init(url: String) throws {
        let port = UInt16(url.split(separator: ":").last.flatMap { Int($0) } ?? 0)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw ConnectFailed(errno: errno) }
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Whatever arrives within `timeout` (stopping at the first read), or "" on close or timeout.
    func receive(within timeout: Duration) -> String {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let millis = Int32(timeout.components.seconds * 1000)
        guard poll(&poller, 1, millis) == 1 else { return "" }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : ""
    }

    /// Whether the server closes the connection within `timeout` (reading and dropping any data).
    func waitForClose(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) >= 0 else { return false }
            if poller.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if n == 0 || (n < 0 && errno != EAGAIN) { return true }
            }
        }
        return false
    }

    func close() { Glibc.close(fd) }
}

struct ConnectFailed: Error { var errno: Int32 }
