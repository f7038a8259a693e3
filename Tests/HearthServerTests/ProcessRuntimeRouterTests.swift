import Foundation
import HearthAPI
import HearthCore
import HearthServer
import HearthServerTestKit
import HearthTestKit
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The API, auth, tenancy, lifecycle and error paths through Hummingbird's router test framework
/// (`app.test(.router)`, no sockets) against the test kit's ProcessRuntime: the real agent in this
/// process, no sandbox, no root, no base image build. Isolation itself is proved by the
/// gVisor/QEMU and hostile-tenant suites, which need real sandboxes.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ProcessRuntimeRouterTests {
    struct Fixture {
        let service: HearthService
        let runtime: ProcessRuntime
        let admin: String
    }

    static func fixture() async throws -> Fixture {
        let data = ProcessHost.scratchDirectory("hearth-router")
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        let runtime = ProcessRuntime()
        let service = try await ProcessHost.service(configuration, runtime: runtime)
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return Fixture(service: service, runtime: runtime, admin: admin)
    }

    /// One request: status and body text.
    static func call(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, token: String?,
                     json body: String? = nil) async throws -> (status: Int, body: String) {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return (response.status.code, String(buffer: response.body))
    }

    static func workspace(_ text: String) throws -> API.WorkspaceBody {
        try API.decoder().decode(API.WorkspaceBody.self, from: Data(text.utf8))
    }

    @Test func aWorkspaceLivesItsWholeLifeThroughTheRouter() async throws {
        let fixture = try await Self.fixture()
        try await fixture.service.application().test(.router) { client in
            let admin = fixture.admin
            let created = try await Self.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"life"}"#)
            #expect(created.status == 201, "\(created.body)")
            let ws = try Self.workspace(created.body)
            #expect(ws.state == "running" && ws.runtime == "process")
            let exec = try await Self.call(client, .post, "/v1/workspaces/\(ws.id)/exec", token: admin,
                                           json: #"{"argv":["sh","-c","echo hello-$((40+2)); pwd"]}"#)
            #expect(exec.status == 200)
            #expect(exec.body.contains("hello-42"))
            for (verb, state) in [("pause", "paused"), ("resume", "running"), ("stop", "stopped"), ("start", "running")] {
                let answer = try await Self.call(client, .post, "/v1/workspaces/\(ws.id)/\(verb)", token: admin)
                #expect(answer.status == 200, "\(verb): \(answer.body)")
                #expect(try Self.workspace(answer.body).state == state, "\(verb)")
            }
            let again = try await Self.call(client, .post, "/v1/workspaces/life/exec", token: admin, json: #"{"argv":["echo","back"]}"#)
            #expect(again.body.contains("back"))
            #expect(try await Self.call(client, .delete, "/v1/workspaces/\(ws.id)", token: admin).status == 204)
            let gone = try await Self.call(client, .get, "/v1/workspaces/\(ws.id)", token: admin)
            #expect(gone.status == 404 && gone.body.contains("not_found"))
        }
    }

    @Test func withoutAValidTokenOnlyHealthAnswers() async throws {
        let fixture = try await Self.fixture()
        try await fixture.service.application().test(.router) { client in
            #expect(try await Self.call(client, .get, "/v1/health", token: nil).status == 200)
            for token in [nil, "hth_wrong", fixture.admin + "x"] {
                let answer = try await Self.call(client, .get, "/v1/workspaces", token: token)
                #expect(answer.status == 401 && answer.body.contains("unauthorized"))
                #expect(try await Self.call(client, .post, "/v1/workspaces", token: token, json: "{}").status == 401)
            }
        }
    }

    @Test func anotherTenantSeesNoneOfThisTenantsWorkspacesAndItsViewerChangesNothing() async throws {
        let fixture = try await Self.fixture()
        try await fixture.service.application().test(.router) { client in
            let admin = fixture.admin
            let mine = try Self.workspace(try await Self.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"mine"}"#).body)
            #expect(try await Self.call(client, .post, "/v1/tenants", token: admin, json: #"{"name":"other"}"#).status == 201)
            var tokens: [String: String] = [:]
            for role in ["member", "viewer"] {
                let user = #"{"email":"\#(role)@other.test","tenant":"other","role":"\#(role)","password":"a long password"}"#
                #expect(try await Self.call(client, .post, "/v1/users", token: admin, json: user).status == 201)
                let minted = try await Self.call(client, .post, "/v1/tokens", token: admin,
                                                 json: #"{"name":"t","tenant":"other","user":"\#(role)@other.test"}"#)
                tokens[role] = try API.decoder().decode(API.TokenBody.self, from: Data(minted.body.utf8)).token
            }
            let member = try #require(tokens["member"]), viewer = try #require(tokens["viewer"])
            for token in [member, viewer] {
                #expect(try await Self.call(client, .get, "/v1/workspaces", token: token).body.contains(mine.id) == false)
                // Refused exactly as a workspace that does not exist is (a viewer's writes are 403 before
                // any lookup): the answer says nothing about whether the id exists.
                for (method, path, body) in [(HTTPRequest.Method.get, "", nil), (.delete, "", nil), (.post, "/stop", nil), (.post, "/pause", nil),
                                             (.post, "/exec", #"{"argv":["true"]}"#), (.post, "/sync", nil), (.get, "/generations", nil), (.get, "/generations/1/files", nil),
                                             (.get, "/generations/1/content?path=a", nil)] {
                    let answer = try await Self.call(client, method, "/v1/workspaces/\(mine.id)\(path)", token: token, json: body)
                    let absent = try await Self.call(client, method, "/v1/workspaces/ws-does-not-exist\(path)", token: token, json: body)
                    #expect(answer.status == absent.status && (answer.status == 404 || answer.status == 403), "\(method) \(path): \(answer.status)")
                    #expect(token == viewer || answer.status == 404, "a member of another tenant gets not-found")
                }
            }
            let refused = try await Self.call(client, .post, "/v1/workspaces", token: viewer, json: #"{"name":"nope"}"#)
            #expect(refused.status == 403)
            let theirs = try await Self.call(client, .post, "/v1/workspaces", token: member, json: #"{"name":"theirs"}"#)
            #expect(theirs.status == 201)
            #expect(try await Self.call(client, .get, "/v1/workspaces", token: viewer).body.contains("theirs"))
            #expect(try await Self.call(client, .post, "/v1/workspaces/theirs/stop", token: viewer).status == 403)
            #expect(try await Self.call(client, .get, "/v1/workspaces/theirs", token: admin).status == 404)
            #expect(try await Self.call(client, .get, "/v1/workspaces/\(mine.id)", token: admin).status == 200)
        }
    }

    @Test func aRuntimeThatCannotStartFailsTheCreateWithTheClientMessageOnly() async throws {
        let fixture = try await Self.fixture()
        fixture.runtime.failStarts.withLock {
            $0 = HearthError(.runtimeFailed, "the sandbox could not start", detail: "/secret/host/path exited 125")
        }
        try await fixture.service.application().test(.router) { client in
            let answer = try await Self.call(client, .post, "/v1/workspaces", token: fixture.admin, json: #"{"name":"broken"}"#)
            #expect(answer.status >= 500, "\(answer.body)")
            #expect(answer.body.contains("runtime_failed") && answer.body.contains("could not start"))
            #expect(!answer.body.contains("/secret/host/path"), "the detail is for logs, never the client")
            let listed = try await Self.call(client, .get, "/v1/workspaces", token: fixture.admin)
            #expect(!listed.body.contains("\"running\""))
        }
    }

    @Test func aRequestForTheProcessRuntimeByNameIsRefused() async throws {
        let fixture = try await Self.fixture()
        try await fixture.service.application().test(.router) { client in
            let answer = try await Self.call(client, .post, "/v1/workspaces", token: fixture.admin, json: #"{"runtime":"process"}"#)
            #expect(answer.status == 400 && answer.body.contains("invalid_argument"))
        }
    }
}
