import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import NIOCore
import NIOHTTP1

/// The hostile-tenant suite: each attack is run as a member and as a viewer of a second tenant
/// against a live server with real sandboxes, and must be refused without touching the host, the
/// operator or another tenant. `HostileTenant.make` gives an attacker of a fresh tenant.
struct HostileTenant: Sendable {
    let server: LiveServer
    let tenant: String
    let member: HearthClient
    let memberToken: String
    let viewer: HearthClient
    let viewerToken: String

    static func make(_ server: LiveServer) async throws -> HostileTenant {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let tenant = "evil-\(suffix)"
        _ = try await server.client.createTenant(tenant)
        _ = try await server.client.createUser(API.CreateUserBody(email: "m@\(tenant).test", tenant: tenant, role: "member",
                                                                  password: "a long password"))
        _ = try await server.client.createUser(API.CreateUserBody(email: "v@\(tenant).test", tenant: tenant, role: "viewer",
                                                                  password: "a long password"))
        guard let memberToken = try await server.client.createToken(
                  API.CreateTokenBody(name: "m", tenant: tenant, user: "m@\(tenant).test")).token,
              let viewerToken = try await server.client.createToken(
                  API.CreateTokenBody(name: "v", tenant: tenant, user: "v@\(tenant).test")).token
        else { throw HostileSetupFailed() }
        return HostileTenant(server: server, tenant: tenant,
                             member: HearthClient(baseURL: server.url, token: memberToken), memberToken: memberToken,
                             viewer: HearthClient(baseURL: server.url, token: viewerToken), viewerToken: viewerToken)
    }

    /// One raw request as `token`: status and body (at most 1 MiB read).
    func request(_ token: String, _ method: HTTPMethod, _ path: String, body: String? = nil,
                 headers: [(String, String)] = []) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: server.url + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    /// The server process's resident set, in KiB, read from /proc (the server runs in this process).
    static func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}

struct HostileSetupFailed: Error {}
