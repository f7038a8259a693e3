import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// Agent sessions over real HTTP on ProcessRuntime with a scripted turn driver: the event stream
/// (resume with Last-Event-ID mid-turn), turns that run with nobody connected, cancel,
/// idempotent sends, admission, idle timeout, crash recovery and tenancy.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AgentSessionFlowTests {
    @Test func aClientThatReconnectsMidTurnWithLastEventIDGetsEveryEventOnceInOrder() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        _ = try await agents.client.sendAgentMessage(session.id, text: "tool")
        // First connection: leave as soon as the tool call arrives (the turn now waits at the gate).
        let first = try await agents.events(session.id) { $0.type == "tool_call" }
        let last = try #require(first.last?.seq)
        // While nobody is connected the turn goes on and ends.
        agents.gate.open()
        try await Self.waitUntil { try await agents.client.agentSession(session.id).state == "idle" }
        let second = try await agents.events(session.id, after: last) { $0.isTurnEnd }
        let all = first + second
        #expect(all.map(\.seq) == Array(1...Int64(all.count)), "every event once, in order")
        let stored = try await agents.client.agentTranscript(session.id).events
        #expect(all.map(\.seq) == stored.map(\.seq))
        #expect(all.map(\.type) == stored.map(\.type))
        #expect(all.last?.fields["outcome"] as? String == "completed")
        let answer = all.filter { $0.type == "message" && $0.fields["role"] as? String == "assistant" }.map { $0.fields["text"] as? String ?? "" }.joined()
        #expect(answer == "Let me look.There is a.txt.")
        let markdown = try await agents.client.agentTranscriptMarkdown(session.id)
        #expect(markdown.contains("**Tool call** `bash`") && markdown.contains("There is a.txt."))
    }

    @Test func aRepeatedIdempotencyKeyStartsOneTurn() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        let first = try await agents.client.sendAgentMessage(session.id, text: "hello", idempotencyKey: "same-key")
        let again = try await agents.client.sendAgentMessage(session.id, text: "hello", idempotencyKey: "same-key")
        #expect(!first.duplicate && again.duplicate && again.seq == first.seq)
        _ = try await agents.events(session.id) { $0.isTurnEnd }
        let transcript = try await agents.client.agentTranscript(session.id).events
        #expect(transcript.filter { $0.type == "message" && $0.fields["role"] as? String == "user" }.count == 1)
        #expect(transcript.filter { $0.type == "agent_busy" }.count == 1)
        await #expect(throws: HearthClient.Failure.self) {
            _ = try await agents.client.sendAgentMessage(session.id, text: "x", idempotencyKey: "bad key with spaces")
        }
    }

    @Test func cancelEndsTheRunningTurnAsCancelledAndTheSessionContinues() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        _ = try await agents.client.sendAgentMessage(session.id, text: "slow")
        _ = try await agents.events(session.id) { $0.type == "message" && $0.fields["role"] as? String == "assistant" }
        #expect(try await agents.client.cancelAgentTurn(session.id))
        let events = try await agents.events(session.id) { $0.isTurnEnd }
        #expect(events.last?.fields["outcome"] as? String == "cancelled")
        #expect(try await agents.client.cancelAgentTurn(session.id) == false)
        let next = try await agents.client.sendAgentMessage(session.id, text: "hello")
        let after = try await agents.events(session.id, after: next.seq) { $0.isTurnEnd }
        #expect(after.last?.fields["outcome"] as? String == "completed")
    }

    @Test func aboveTheMemoryThresholdANewSessionGets503WithRetryAfter() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        _ = try await agents.session()
        agents.load.pressure.withLock { $0 = 0.95 }
        let refused = try await Self.raw(agents, "POST", "/v1/agent-sessions", body: #"{"provider":"local","model":"m","new_workspace":{}}"#)
        #expect(refused.status == 503)
        #expect(refused.retryAfter == "30")
        let system = try await agents.client.system()
        #expect(system.memory_pressure > 0.9 && system.agent_sessions == 1 && system.admission_threshold == 0.9)
        agents.load.pressure.withLock { $0 = 0.5 }
        _ = try await agents.session()
        #expect(try await agents.client.system().agent_sessions == 2)
    }

    @Test func anIdleTimeoutEndsTheSessionAndPausesOrDeletesItsWorkspace() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let paused = try await agents.session(idle: 300)
        let deleted = try await agents.session(onIdle: "delete", idle: 600)
        for bad in [299, 604_801] {
            await #expect(throws: HearthClient.Failure.self) { _ = try await agents.session(idle: bad) }
        }
        agents.clock.advance(301)
        #expect(await agents.server.service.agentSessions.sweepIdle() == [paused.id])
        #expect(try await agents.client.agentSession(paused.id).state == "ended")
        #expect(try await agents.client.get(paused.workspace).state == "paused")
        #expect(try await agents.client.agentSession(deleted.id).state == "idle")
        let exit = try await agents.events(paused.id) { $0.type == "exit" }
        #expect(exit.last?.fields["reason"] as? String == "idle_timeout")
        await #expect(throws: HearthClient.Failure.self) { _ = try await agents.client.sendAgentMessage(paused.id, text: "hello") }
        agents.clock.advance(300)
        #expect(await agents.server.service.agentSessions.sweepIdle() == [deleted.id])
        await #expect(throws: HearthClient.Failure.self) { _ = try await agents.client.get(deleted.workspace) }
    }

    /// The files as kill -9 would leave them (copied while the turn waits mid-tool-call, no
    /// graceful stop), started as a new server: the transcript is intact, the open tool call is
    /// closed as interrupted and not re-run, and a new message continues the session.
    @Test func afterACrashMidTurnTheTranscriptIsIntactTheCallIsClosedAndTheSessionContinues() async throws {
        let agents = try await AgentServer.start()
        try await agents.provider()
        let session = try await agents.session()
        _ = try await agents.client.sendAgentMessage(session.id, text: "tool")
        let before = try await agents.events(session.id) { $0.type == "tool_call" }
        let crashed = ProcessHost.scratchDirectory("hearth-agents-crashed")
        try FileManager.default.copyItem(atPath: agents.server.dataDirectory, toPath: crashed)
        agents.gate.open()
        await agents.server.stop()

        let restarted = try await AgentServer.start(data: crashed)
        defer { Task { await restarted.server.stop() } }
        let transcript = try await restarted.client.agentTranscript(session.id).events
        #expect(Array(transcript.prefix(before.count)).map(\.data) == before.map(\.data), "what was stored is intact")
        let call = try #require(before.last?.fields["id"] as? String)
        let closed = transcript.filter { $0.type == "tool_result" && $0.fields["id"] as? String == call }
        #expect(closed.count == 1)
        #expect(closed.first?.fields["interrupted"] as? Bool == true)
        #expect(transcript.last?.type == "agent_idle" && transcript.last?.fields["outcome"] as? String == "interrupted")
        #expect(try await restarted.client.agentSession(session.id).state == "idle")
        let next = try await restarted.client.sendAgentMessage(session.id, text: "hello")
        let after = try await restarted.events(session.id, after: next.seq) { $0.isTurnEnd }
        #expect(after.last?.fields["outcome"] as? String == "completed")
        // Nothing re-ran: one tool call in the whole transcript.
        let final = try await restarted.client.agentTranscript(session.id).events
        #expect(final.filter { $0.type == "tool_call" }.count == 1)
    }

    @Test func anotherTenantCannotSeeOrDriveASessionAndAViewerCannotSend() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        let tenant = "other-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try await agents.client.createTenant(tenant)
        _ = try await agents.client.createUser(API.CreateUserBody(email: "m@\(tenant).test", tenant: tenant, role: "member", password: "a long password"))
        let token = try #require(try await agents.client.createToken(API.CreateTokenBody(name: "m", tenant: tenant, user: "m@\(tenant).test")).token)
        for (method, path, body) in [("GET", "/v1/agent-sessions/\(session.id)", nil), ("GET", "/v1/agent-sessions/\(session.id)/events", nil),
                                     ("GET", "/v1/agent-sessions/\(session.id)/transcript", nil),
                                     ("POST", "/v1/agent-sessions/\(session.id)/messages", #"{"text":"hi"}"#),
                                     ("POST", "/v1/agent-sessions/\(session.id)/cancel", nil), ("DELETE", "/v1/agent-sessions/\(session.id)", nil),
                                     ("GET", "/v1/agent-sessions/\(session.id)/steps", nil),
                                     ("POST", "/v1/agent-sessions/\(session.id)/rewind", #"{"step":0}"#),
                                     ("POST", "/v1/agent-sessions/\(session.id)/fork", "{}")] {
            let answer = try await Self.raw(agents, method, path, body: body, token: token)
            #expect(answer.status == 404, "\(method) \(path)")
        }
        // The other tenant cannot use this tenant's provider or workspace either.
        let borrowed = try await Self.raw(agents, "POST", "/v1/agent-sessions", body: #"{"provider":"local","model":"m","workspace":"\#(session.workspace)"}"#, token: token)
        #expect(borrowed.status == 404)
        let list = try await Self.raw(agents, "GET", "/v1/agent-sessions", token: token)
        #expect(!list.body.contains(session.id))
        // A member cannot set providers; only a tenant admin can.
        let setProvider = try await Self.raw(agents, "PUT", "/v1/agent-providers/mine", body: #"{"kind":"openai","base_url":"http://x/v1","api_key":"k"}"#, token: token)
        #expect(setProvider.status == 403)
    }

    @Test func lastEventIDMustBeADecimalNumber() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        for bad in ["-1", "abc", "1e3", "1 2", "+5", "99999999999999999999", "9223372036854775808", String(repeating: "9", count: 5000)] {
            let answer = try await Self.raw(agents, "GET", "/v1/agent-sessions/\(session.id)/events", headers: [("Last-Event-ID", bad)])
            #expect(answer.status == 400, "\(bad.prefix(30))")
        }
    }

    static func waitUntil(deadline: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw AgentServer.DeadlinePassed()
    }

    static func raw(_ agents: AgentServer, _ method: String, _ path: String, body: String? = nil, token: String? = nil,
                    headers: [(String, String)] = []) async throws -> (status: Int, body: String, retryAfter: String?) {
        var request = HTTPClientRequest(url: agents.server.url + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(token ?? agents.server.token)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)), response.headers.first(name: "Retry-After"))
    }
}

/// The provider key a tenant admin sets is stored sealed and never comes back out: not in the
/// provider listing, a transcript (JSON or Markdown), the audit log, the server's log, or the
/// database's bytes.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AgentProviderKeyTests {
    @Test func aProviderKeyNeverAppearsInListingsTranscriptsAuditLogsOrTheDatabase() async throws {
        let agents = try await AgentServer.start()
        try await agents.provider()
        let key = AgentServer.providerKey
        let session = try await agents.session()
        _ = try await agents.client.sendAgentMessage(session.id, text: "tool")
        agents.gate.open()
        _ = try await agents.events(session.id) { $0.isTurnEnd }
        let listed = try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-providers")
        #expect(listed.status == 200 && listed.body.contains(#""has_key":true"#))
        var seen = [listed.body]
        seen.append(try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-sessions/\(session.id)/transcript").body)
        seen.append(try await agents.client.agentTranscriptMarkdown(session.id))
        seen.append(try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-sessions/\(session.id)").body)
        let audit = try agents.server.service.audit.events()
        #expect(audit.contains { $0.action == "agent_provider.set" })
        #expect(audit.contains { $0.action == "agent_session.create" })
        seen += audit.map { "\($0)" }
        seen += agents.logs.all.map(\.text)
        await agents.server.stop()
        for file in ["agent-sessions.sqlite", "agent-sessions.sqlite-wal", "hearth.sqlite", "audit.sqlite", "identity.sqlite"] {
            if let bytes = FileManager.default.contents(atPath: agents.server.dataDirectory + "/" + file) {
                seen.append(String(decoding: bytes, as: UTF8.self))
                #expect(bytes.range(of: Data(key.utf8)) == nil, "\(file) holds the key in the clear")
            }
        }
        #expect(!seen.isEmpty)
        for text in seen { #expect(!text.contains(key)) }
        // The canary is really what the test thinks: the secret part is there to be found.
        #expect(key.hasPrefix("sk-hearth-canary-"))
    }

    @Test func aViewerCannotSendCancelDeleteOrSetProviders() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        let viewer = try #require(try await agents.client.createToken(API.CreateTokenBody(name: "v", role: "viewer")).token)
        for (method, path, body) in [("POST", "/v1/agent-sessions/\(session.id)/messages", #"{"text":"hi"}"#),
                                     ("POST", "/v1/agent-sessions/\(session.id)/cancel", nil), ("DELETE", "/v1/agent-sessions/\(session.id)", nil),
                                     ("POST", "/v1/agent-sessions", #"{"provider":"local","model":"m"}"#),
                                     ("PUT", "/v1/agent-providers/x", #"{"kind":"openai","base_url":"http://x/v1"}"#),
                                     ("POST", "/v1/agent-sessions/\(session.id)/rewind", #"{"step":0}"#),
                                     ("POST", "/v1/agent-sessions/\(session.id)/fork", "{}"),
                                     ("PUT", "/v1/agent-retention", #"{"mode":"metadata"}"#)] {
            let answer = try await AgentSessionFlowTests.raw(agents, method, path, body: body, token: viewer)
            #expect(answer.status == 403, "\(method) \(path): \(answer.body)")
        }
        #expect(try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-sessions/\(session.id)", token: viewer).status == 200)
    }
}
