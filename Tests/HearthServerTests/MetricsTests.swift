import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthCore
import HearthServer
import HearthServerTestKit
import HearthTestKit
import NIOHTTP1
import NIOCore
import Testing

/// `/metrics` on a real server (port 0) with an in-process runtime beside the host's: what an
/// operator scrapes after requests and workspace lifecycles. Needs HEARTH_TEST_DATA for the base
/// image; no sandbox is started (workspaces run on the test kit's `ProcessRuntime`).
@Suite(.serialized, .timeLimit(.minutes(5))) struct MetricsTests {
    static let fake = ProcessRuntime()
    static let logs = LogCapture()
    static let server = Task { () throws -> LiveServer in
        let data = ProcessHost.scratchDirectory("hearth-metrics")
        let configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        return try await LiveServer.serveInProcess(configuration, runtime: fake, logger: logs.logger())
    }

    static func get(_ path: String, token: String?, headers: [(String, String)] = [], method: HTTPMethod = .GET,
                    body: String? = nil) async throws -> (status: UInt, headers: HTTPHeaders, body: String) {
        let live = try await server.value
        var request = HTTPClientRequest(url: live.url + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (response.status.code, response.headers, String(buffer: bytes))
    }

    static func scrape() async throws -> PrometheusText {
        let live = try await server.value
        let answer = try await get("/metrics", token: live.token)
        #expect(answer.status == 200)
        do {
            return try PrometheusText(answer.body)
        } catch {
            Issue.record("unparsable /metrics (\(error)):\n\(answer.body.prefix(4000))")
            throw error
        }
    }

    @Test func metricsAreNonEmptyParsableAndLabelledByRoutePatternAndTrueStatus() async throws {
        let live = try await Self.server.value
        _ = try await Self.get("/v1/health", token: nil)
        #expect(try await Self.get("/v1/workspaces/nope-raw-path", token: live.token).status == 404)
        #expect(try await Self.get("/v1/workspaces", token: live.token, method: .POST, body: "{").status == 400)
        #expect(try await Self.get("/no/such/route-raw", token: live.token).status == 404)
        #expect(try await Self.get("/v1/health", token: nil, method: .PROPFIND).status != 200)  // A method the HTTP parser knows and Hearth does not route.

        let metrics = try await Self.scrape()
        #expect(metrics.types["hearth_http_requests_total"] == "counter")
        #expect(metrics.types["hearth_http_request_duration_seconds"] == "histogram")
        #expect(metrics.sum("hearth_http_requests_total", where: ["route": "/v1/health", "method": "GET", "status": "200"]) >= 1)
        #expect(metrics.sum("hearth_http_requests_total", where: ["route": "/v1/workspaces/{ws}", "status": "404"]) >= 1)
        #expect(metrics.sum("hearth_http_requests_total", where: ["route": "/v1/workspaces", "method": "POST", "status": "400"]) >= 1)
        #expect(metrics.sum("hearth_http_requests_total", where: ["route": "unmatched", "status": "404"]) >= 1)
        #expect(metrics.sum("hearth_http_requests_total", where: ["method": "other"]) >= 1)
        #expect(metrics.sum("hearth_http_requests_total", where: ["status": "500"]) == 0, "a refusal counted as a server error")
        // The raw path and the raw method never become a label: a client cannot grow the registry.
        for sample in metrics.samples {
            #expect(!sample.labels.values.contains { $0.contains("raw") || $0 == "BREW" }, "raw request data in \(sample)")
        }
        // Workspaces by state: every state, zero included.
        #expect(metrics.types["hearth_workspaces"] == "gauge")
        #expect(metrics.values("hearth_workspaces").count == WorkspaceState.allCases.count)
    }

    @Test func metricsAreTheOperatorsOnly() async throws {
        let live = try await Self.server.value
        #expect(try await Self.get("/metrics", token: nil).status == 401)
        let tenant = "obs-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await live.client.createTenant(tenant)
        _ = try await live.client.createUser(API.CreateUserBody(email: "a@\(tenant).test", tenant: tenant, role: "admin", password: "a long password"))
        let token = try #require(try await live.client.createToken(API.CreateTokenBody(name: "a", tenant: tenant, user: "a@\(tenant).test")).token)
        // Another tenant's admin would see every tenant's workspaces and traffic.
        #expect(try await Self.get("/metrics", token: token).status == 403)
    }

    @Test func aStreamedExecIsTimedToTheEndOfItsBody() async throws {
        let live = try await Self.server.value
        let workspace = try await Self.create(live)
        let result = try await live.client.run(workspace.id, ["sleep", "1"])
        #expect(result.code == 0)
        let metrics = try await Self.scrape()
        let route = ["route": "/v1/workspaces/{ws}/exec", "method": "POST", "status": "200"]
        #expect(metrics.sum("hearth_http_request_duration_seconds_count", where: route) >= 1)
        // Timed to the head, as before, this was a few milliseconds.
        #expect(metrics.sum("hearth_http_request_duration_seconds_sum", where: route) >= 0.9)
        _ = try await live.service.manager.perform(.delete(workspace.id))
    }

    @Test func lifecycleLatencyChannelBytesStatesAndFailuresAppearAfterTheActions() async throws {
        let live = try await Self.server.value
        let workspace = try await Self.create(live)
        #expect(try await live.client.run(workspace.id, ["echo", "hello"]).stdoutText == "hello\n")
        _ = try await live.client.lifecycle(workspace.id, "pause")
        var metrics = try await Self.scrape()
        #expect(metrics.sum("hearth_workspaces", where: ["state": "paused"]) >= 1)
        _ = try await live.client.lifecycle(workspace.id, "resume")
        Self.fake.failPauses.withLock { $0 = HearthError(.runtimeFailed, "the checkpoint failed", detail: "test runtime") }
        defer { Self.fake.failPauses.withLock { $0 = nil } }
        await #expect(throws: HearthClient.Failure.self) { _ = try await live.client.lifecycle(workspace.id, "pause") }

        metrics = try await Self.scrape()
        #expect(metrics.types["hearth_workspace_operation_seconds"] == "histogram")
        for operation in ["create", "pause", "resume"] {
            let labels = ["operation": operation, "runtime": "process", "outcome": "ok"]
            #expect(metrics.sum("hearth_workspace_operation_seconds_count", where: labels) >= 1, "no \(operation) latency")
        }
        #expect(metrics.sum("hearth_workspace_operation_seconds_count", where: ["operation": "pause", "outcome": "error"]) >= 1)
        #expect(metrics.sum("hearth_workspace_failures_total", where: ["reason": "pause_failed", "runtime": "process"]) >= 1)
        #expect(metrics.sum("hearth_agent_channel_bytes_total", where: ["direction": "in", "runtime": "process"]) > 0)
        #expect(metrics.sum("hearth_agent_channel_bytes_total", where: ["direction": "out", "runtime": "process"]) > 0)
        #expect(metrics.sum("hearth_workspaces", where: ["state": "running"]) >= 1)

        // Each transition is logged with the workspace, tenant, runtime and duration.
        let transitions = Self.logs.all.filter { $0.metadata["workspace.id"] == workspace.id && $0.message.hasPrefix("workspace ") }
        for message in ["workspace created", "workspace paused", "workspace resumed", "workspace pause failed"] {
            let record = transitions.first { $0.message == message }
            #expect(record != nil, "no log line \(message)")
            #expect(record?.metadata["runtime"] == "process")
            #expect(record?.metadata["tenant.id"] != nil)
            #expect(record?.metadata["duration.ms"].flatMap { Int($0) } != nil)
        }
        _ = try await live.service.manager.perform(.delete(workspace.id))
    }

    @Test func everyResponseNamesItsRequestAndErrorBodiesAndLogsRepeatIt() async throws {
        let live = try await Self.server.value
        let ok = try await Self.get("/v1/health", token: nil)
        let okId = try #require(ok.headers.first(name: "X-Request-Id"))
        #expect(okId.wholeMatch(of: /req_[0-9a-f]{32}/) != nil)

        // An inbound id from a peer that is not a trusted proxy is replaced.
        let refused = try await Self.get("/v1/workspaces/nope", token: live.token, headers: [("X-Request-Id", "chosen-by-client")])
        #expect(refused.status == 404)
        let id = try #require(refused.headers.first(name: "X-Request-Id"))
        #expect(id != "chosen-by-client" && id != okId)
        let body = try API.decoder().decode(API.ErrorBody.self, from: Data(refused.body.utf8))
        #expect(body.error.requestId == id)
        #expect(body.error.code == "not_found")
        // The refusal's log line carries the same id.
        #expect(Self.logs.all.contains { $0.metadata["request.id"] == id && $0.message == "request refused" })

        // A 401 from the authentication middleware is named too.
        let anonymous = try await Self.get("/v1/workspaces", token: nil)
        #expect(anonymous.status == 401)
        let anonymousBody = try API.decoder().decode(API.ErrorBody.self, from: Data(anonymous.body.utf8))
        #expect(anonymousBody.error.requestId == anonymous.headers.first(name: "X-Request-Id"))
        do {
            _ = try await live.client.get("nope")
        } catch let failure as HearthClient.Failure {
            #expect(failure.requestId?.hasPrefix("req_") == true)
        }
    }

    @Test func noSecretReachesTheLog() async throws {
        let live = try await Self.server.value
        let password = try String(contentsOfFile: live.dataDirectory + "/admin.password", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        await #expect(throws: HearthClient.Failure.self) { _ = try await live.client.signIn(email: "admin", password: password + "-wrong") }
        let session = try await live.client.signIn(email: "admin", password: password)
        let minted = try #require(try await live.client.createToken(API.CreateTokenBody(name: "obs-\(UUID().uuidString.prefix(6))"), session: session).token)
        _ = try await HearthClient(baseURL: live.url, token: minted).list()
        _ = try await Self.get("/v1/workspaces", token: nil, headers: [("Cookie", session.cookie)])
        _ = try await Self.get("/v1/tokens", token: nil, headers: [("Cookie", session.cookie)], method: .POST, body: "{}")
        _ = try await Self.get("/v1/workspaces", token: "hth_notavalidtokenbutsecretlooking00")
        _ = try await Self.get("/metrics", token: minted)
        try await live.client.signOut(session)

        let cookieSecret = String(session.cookie.split(separator: "=", maxSplits: 1).last ?? "")
        let secrets = [live.token, password, password + "-wrong", minted, cookieSecret, session.csrf, "hth_notavalidtokenbutsecretlooking00"]
        #expect(Self.logs.all.count > 10, "the server logged nothing: the test would prove nothing")
        for record in Self.logs.all {
            for secret in secrets where secret.count >= 8 {
                #expect(!record.text.contains(secret), "a secret in the log: \(record.message)")
            }
        }
    }

    static func create(_ live: LiveServer) async throws -> Workspace {
        guard case .workspace(let workspace) = try await live.service.manager.perform(.create(CreateWorkspace(runtime: .process))) else {
            throw HearthError(.internal, "create returned no workspace")
        }
        return workspace
    }
}
