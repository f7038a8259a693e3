import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// A session's idle timeout changed after it was made (the Agents view's setting): bounded, for
/// writers of its tenant only, and what the idle sweep then goes by.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AgentSessionSettingsTests {
    @Test func theIdleTimeoutCanBeChangedWithinItsRangeAndTheSweepFollowsIt() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session(idle: 7200)
        let changed = try await agents.client.setAgentSessionIdleTimeout(session.id, seconds: 300)
        #expect(changed.idle_timeout_seconds == 300)
        #expect(try await agents.client.agentSession(session.id).idle_timeout_seconds == 300)
        for body in [#"{"idle_timeout_seconds":299}"#, #"{"idle_timeout_seconds":604801}"#, #"{"idle_timeout_seconds":-9223372036854775808}"#,
                     #"{"idle_timeout_seconds":1e300}"#, "{}", #"{"idle_timeout_seconds":"300"}"#] {
            let answer = try await AgentSessionFlowTests.raw(agents, "PATCH", "/v1/agent-sessions/\(session.id)", body: body)
            #expect(answer.status == 400, "\(body): \(answer.body)")
        }
        let viewer = try #require(try await agents.client.createToken(API.CreateTokenBody(name: "v", role: "viewer")).token)
        #expect(try await AgentSessionFlowTests.raw(agents, "PATCH", "/v1/agent-sessions/\(session.id)", body: #"{"idle_timeout_seconds":600}"#,
                                                     token: viewer).status == 403)
        let tenant = "idle-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try await agents.client.createTenant(tenant)
        _ = try await agents.client.createUser(API.CreateUserBody(email: "m@\(tenant).test", tenant: tenant, role: "member", password: "a long password"))
        let other = try #require(try await agents.client.createToken(API.CreateTokenBody(name: "m", tenant: tenant, user: "m@\(tenant).test")).token)
        #expect(try await AgentSessionFlowTests.raw(agents, "PATCH", "/v1/agent-sessions/\(session.id)", body: #"{"idle_timeout_seconds":600}"#,
                                                     token: other).status == 404)
        // The sweep goes by the new timeout, and an ended session's cannot change.
        agents.clock.advance(301)
        #expect(await agents.server.service.agentSessions.sweepIdle() == [session.id])
        let ended = try await AgentSessionFlowTests.raw(agents, "PATCH", "/v1/agent-sessions/\(session.id)", body: #"{"idle_timeout_seconds":600}"#)
        #expect(ended.status == 409, "\(ended.body)")
        #expect(try agents.server.service.audit.events().contains { $0.action == "agent_session.update" })
    }
}
