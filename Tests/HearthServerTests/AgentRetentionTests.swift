import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// Retention (issue 18): a tenant that keeps only metadata has its ended sessions' content purged
/// by the runner's sweep; one that keeps transcripts (the default) keeps them; only its admin sets it.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AgentRetentionTests {
    @Test func aTenantThatKeepsOnlyMetadataHasItsEndedSessionsContentPurged() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let manager = agents.server.service.agentSessions
        #expect(try await agents.client.agentRetention() == "transcripts")

        let ended = try await agents.session(idle: 300)
        let sent = try await agents.client.sendAgentMessage(ended.id, text: "the words of a prompt")
        _ = try await agents.events(ended.id, after: sent.seq) { $0.isTurnEnd }
        agents.clock.advance(301)
        let live = try await agents.session(idle: 3600)
        let liveSent = try await agents.client.sendAgentMessage(live.id, text: "the words of a prompt")
        _ = try await agents.events(live.id, after: liveSent.seq) { $0.isTurnEnd }
        #expect(await manager.sweepIdle() == [ended.id])
        // Transcripts kept: nothing is purged.
        #expect(await manager.purgeEndedContent().isEmpty)
        #expect(try await agents.client.agentTranscriptMarkdown(ended.id).contains("the words of a prompt"))

        #expect(try await agents.client.setAgentRetention("metadata") == "metadata")
        // Due for its purge: a fork would keep what the tenant asked not to keep.
        let early = try await AgentSessionFlowTests.raw(agents, "POST", "/v1/agent-sessions/\(ended.id)/fork", body: "{}")
        #expect(early.status == 409 && early.body.contains("keeps only metadata"), "\(early.body)")
        let before = try await agents.client.agentTranscript(ended.id).events
        #expect(await manager.purgeEndedContent() == [ended.id])
        #expect(await manager.purgeEndedContent().isEmpty)
        let after = try await agents.client.agentTranscript(ended.id)
        let text = "\(after)" + (try await agents.client.agentTranscriptMarkdown(ended.id))
        #expect(!text.contains("the words of a prompt") && !text.contains("Hello") && !text.contains("be brief"), "\(text)")
        // The metadata stays: every event's kind and number, in order, and a note of the purge.
        #expect(after.events.dropLast().map(\.seq) == before.map(\.seq) && after.events.dropLast().map(\.type) == before.map(\.type))
        #expect(after.events.last?.fields["status"] as? String == "content_purged")
        #expect(after.session.content_purged_at != nil && after.session.system_prompt.isEmpty)
        // A purged session cannot be forked back into content.
        let fork = try await AgentSessionFlowTests.raw(agents, "POST", "/v1/agent-sessions/\(ended.id)/fork", body: "{}")
        #expect(fork.status == 409 || fork.status == 404, "\(fork.body)")
        // A session still live keeps everything.
        #expect(try await agents.client.agentTranscriptMarkdown(live.id).contains("the words of a prompt"))
        #expect(try await agents.client.agentSession(live.id).content_purged_at == nil)
    }

    @Test func onlyATenantAdminSetsRetention() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        let tenant = "ret-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try await agents.client.createTenant(tenant)
        _ = try await agents.client.createUser(API.CreateUserBody(email: "m@\(tenant).test", tenant: tenant, role: "member", password: "a long password"))
        let member = try #require(try await agents.client.createToken(API.CreateTokenBody(name: "m", tenant: tenant, user: "m@\(tenant).test")).token)
        let refused = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-retention", body: #"{"mode":"metadata"}"#, token: member)
        #expect(refused.status == 403)
        let read = try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-retention", token: member)
        #expect(read.status == 200 && read.body.contains("transcripts"))
        let bad = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-retention", body: #"{"mode":"forever"}"#)
        #expect(bad.status == 400)
        // The operator's setting is its own tenant's, not this one's.
        _ = try await agents.client.setAgentRetention("metadata")
        let still = try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-retention", token: member)
        #expect(still.body.contains("transcripts"))
    }
}
