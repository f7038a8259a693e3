import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Every route scopes workspaces by the caller's tenant: another tenant's workspace is "not
/// found" (never "forbidden"), by id or by name, over HTTP and WebSocket alike.
@Suite(.serialized, .timeLimit(.minutes(5))) struct TenancyTests {
    static func status(_ server: LiveServer, _ token: String, _ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: server.url + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func anotherTenantsWorkspaceIsNotFoundOnEveryRoute() async throws {
        let server = try await LiveServer.shared.value
        let suffix = UUID().uuidString.prefix(6).lowercased()
        _ = try await server.client.createTenant("acme-\(suffix)")
        _ = try await server.client.createUser(API.CreateUserBody(email: "dev@acme-\(suffix).test", tenant: "acme-\(suffix)", role: "admin",
                                                                  password: "a long password"))
        let acmeToken = try #require(try await server.client.createToken(
            API.CreateTokenBody(name: "acme", tenant: "acme-\(suffix)", user: "dev@acme-\(suffix).test")).token)
        let acme = HearthClient(baseURL: server.url, token: acmeToken)
        let name = "mine-\(suffix)"
        let w = try await server.client.create(API.CreateWorkspaceBody(name: name))
        _ = try await server.client.run(w.id, ["sh", "-c", "echo secret > /workspace/secret.txt"])

        let routes: [(HTTPMethod, String, String?)] = [
            (.GET, "/v1/workspaces/\(w.id)", nil), (.GET, "/v1/workspaces/\(name)", nil),
            (.POST, "/v1/workspaces/\(w.id)/start", "{}"), (.POST, "/v1/workspaces/\(w.id)/stop", "{}"),
            (.POST, "/v1/workspaces/\(w.id)/pause", "{}"), (.POST, "/v1/workspaces/\(w.id)/resume", "{}"),
            (.POST, "/v1/workspaces/\(w.id)/exec", #"{"argv":["cat","/workspace/secret.txt"]}"#),
            (.GET, "/v1/workspaces/\(w.id)/files/list?path=/workspace", nil),
            (.GET, "/v1/workspaces/\(w.id)/files/stat?path=/workspace/secret.txt", nil),
            (.GET, "/v1/workspaces/\(w.id)/files/content?path=/workspace/secret.txt", nil),
            (.PUT, "/v1/workspaces/\(w.id)/files/content?path=/workspace/secret.txt", "overwritten"),
            (.DELETE, "/v1/workspaces/\(w.id)/files?path=/workspace/secret.txt", nil),
            (.POST, "/v1/workspaces/\(w.id)/files/mkdir", #"{"path":"/workspace/x"}"#),
            (.POST, "/v1/workspaces/\(w.id)/files/move", #"{"from":"/workspace/secret.txt","to":"/workspace/y"}"#),
            (.GET, "/v1/workspaces/\(w.id)/ports", nil),
            (.PATCH, "/v1/workspaces/\(w.id)", #"{"idle_timeout_s":600}"#),
            (.POST, "/v1/workspaces/\(w.id)/sync", "{}"), (.GET, "/v1/workspaces/\(w.id)/generations", nil),
            (.GET, "/v1/workspaces/\(w.id)/generations/1/files?path=/workspace", nil),
            (.GET, "/v1/workspaces/\(w.id)/generations/1/content?path=/workspace/secret.txt", nil),
            (.POST, "/v1/workspaces/\(w.id)/generations/1/restore", #"{"path":"/workspace/secret.txt"}"#),
            (.POST, "/v1/workspaces/\(w.id)/rollback", #"{"generation":1}"#),
            (.POST, "/v1/workspaces/\(w.id)/fork", #"{"generation":1}"#),
            (.GET, "/w/\(w.id)/p/8000/", nil), (.GET, "/w/\(name)/p/8000/", nil),
            (.DELETE, "/v1/workspaces/\(w.id)", nil),
        ]
        for (method, path, body) in routes {
            let (status, text) = try await Self.status(server, acmeToken, method, path, body: body)
            #expect(status == 404 && text.contains("not_found"), "\(method) \(path): \(status) \(text)")
        }
        // A preview grant cannot be guessed or borrowed across workspaces.
        let (forged, forgedBody) = try await Self.status(server, acmeToken, .GET, "/w/\(w.id)/p/8000/~\(String(repeating: "ab", count: 16))/")
        #expect(forged == 401 && forgedBody.contains("preview link"))
        // WebSockets: interactive exec, the port tunnel and the terminals.
        let execError = Mutex<String>("")
        try await acme.interactive(w.id, API.ExecBody(argv: ["true"]), input: { _ in }, onFrame: { kind, payload in
            if kind == .error { execError.withLock { $0 = String(decoding: payload, as: UTF8.self) } }
        })
        #expect(execError.withLock { $0 }.contains("not_found"))
        do {
            try await acme.tunnel(w.id, port: 8000, send: { _ in }, receive: { _ in })
            Issue.record("expected the tunnel to be refused")
        } catch let failure as HearthClient.Failure {
            #expect(failure.code == "not_found")
        }
        try await TerminalSocketClient.connect(acme, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, ["type": "list"])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "error" } }
            #expect(received.messages().first?["code"] as? String == "not_found")
        }
        #expect(try await acme.list().isEmpty)
        // Nothing was changed, and names are per tenant: acme may use the same one.
        #expect(try await server.client.run(w.id, ["cat", "/workspace/secret.txt"]).stdoutText == "secret\n")
        #expect(try await server.client.get(w.id).state == "running")
        let theirs = try await acme.create(API.CreateWorkspaceBody(name: name))
        #expect(theirs.id != w.id)
        let (mineByName, theirsByName) = (try await server.client.get(name).id, try await acme.get(name).id)
        #expect(mineByName == w.id && theirsByName == theirs.id)
        try await acme.delete(theirs.id)
        try await server.client.delete(w.id)
    }

    @Test func aViewerSeesButCannotRunOrWrite() async throws {
        let server = try await LiveServer.shared.value
        let email = "viewer-\(UUID().uuidString.prefix(6).lowercased())@example.test"
        _ = try await server.client.createUser(API.CreateUserBody(email: email, tenant: nil, role: "viewer", password: "a long password"))
        let token = try #require(try await server.client.createToken(API.CreateTokenBody(name: "v", user: email)).token)
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "watched-\(email.prefix(13).suffix(6))"))
        _ = try await server.client.run(w.id, ["sh", "-c", "echo readable > /workspace/r.txt"])
        let (readStatus, readBody) = try await Self.status(server, token, .GET, "/v1/workspaces/\(w.id)/files/content?path=/workspace/r.txt")
        #expect(readStatus == 200 && readBody == "readable\n")
        for (method, path, body) in [(HTTPMethod.POST, "/v1/workspaces/\(w.id)/exec", #"{"argv":["true"]}"#),
                                     (.PUT, "/v1/workspaces/\(w.id)/files/content?path=/workspace/r.txt", "x"),
                                     (.POST, "/v1/workspaces/\(w.id)/pause", "{}"), (.DELETE, "/v1/workspaces/\(w.id)", nil)] {
            let (status, text) = try await Self.status(server, token, method, path, body: body)
            #expect(status == 403 && text.contains("viewer"), "\(method) \(path)")
        }
        let viewer = HearthClient(baseURL: server.url, token: token)
        try await TerminalSocketClient.connect(viewer, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, ["type": "open"])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "error" } }
            #expect(received.messages().first { $0["type"] as? String == "error" }?["code"] as? String == "forbidden")
        }
        try await server.client.delete(w.id)
    }
}
