import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// A tenant's own scrub rules (issue 18): set by its admin, checked rule by rule, its own and no
/// other tenant's. That they scrub a real turn: `AgentSessionLiveTests/aTenantsOwnScrubRuleRedactsAPromptBeforeTheProvider`.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AgentScrubRuleTests {
    @Test func aTenantAdminSetsCheckedRulesThatOnlyItsTenantSees() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        func put(_ body: String, token: String? = nil) async throws -> (status: Int, body: String) {
            let answer = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-scrub-rules", body: body, token: token)
            return (answer.status, answer.body)
        }
        let rule = #"{"id":"acme_key","prefix":"acme_","alphabet":"alphanumeric","min_length":16,"max_length":32}"#
        let set = try await put(#"{"rules":[\#(rule)]}"#)
        #expect(set.status == 200, "\(set.body)")
        let listed = try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-scrub-rules")
        #expect(listed.body.contains(#""id":"acme_key""#) && listed.body.contains(#""prefix":"acme_""#), "\(listed.body)")

        // Each rule is checked; a refused set changes nothing.
        for bad in [#"{"id":"Bad-Id","prefix":"acme_","alphabet":"hex","min_length":1,"max_length":2}"#,
                    #"{"id":"short","prefix":"ab","alphabet":"hex","min_length":1,"max_length":2}"#,
                    #"{"id":"alpha","prefix":"acme_","alphabet":"emoji","min_length":1,"max_length":2}"#,
                    #"{"id":"range","prefix":"acme_","alphabet":"hex","min_length":9,"max_length":2}"#,
                    #"{"id":"huge","prefix":"acme_","alphabet":"hex","min_length":1,"max_length":9223372036854775807}"#] {
            #expect(try await put(#"{"rules":[\#(bad)]}"#).status == 400, "\(bad)")
        }
        #expect(try await put(#"{"rules":[\#(rule),\#(rule)]}"#).status == 400)
        let many = (0..<33).map { #"{"id":"r\#($0)","prefix":"acme_","alphabet":"hex","min_length":1,"max_length":2}"# }.joined(separator: ",")
        #expect(try await put(#"{"rules":[\#(many)]}"#).status == 400)
        #expect(try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-scrub-rules").body == listed.body)

        // Another tenant: its member sees its own (none), and cannot set any.
        let tenant = "scrub-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try await agents.client.createTenant(tenant)
        _ = try await agents.client.createUser(API.CreateUserBody(email: "m@\(tenant).test", tenant: tenant, role: "member", password: "a long password"))
        let member = try #require(try await agents.client.createToken(API.CreateTokenBody(name: "m", tenant: tenant, user: "m@\(tenant).test")).token)
        let theirs = try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-scrub-rules", token: member)
        #expect(theirs.status == 200 && theirs.body.contains(#""rules":[]"#) && !theirs.body.contains("acme"), "\(theirs.body)")
        #expect(try await put(#"{"rules":[]}"#, token: member).status == 403)
        // An empty set clears them.
        #expect(try await put(#"{"rules":[]}"#).status == 200)
        #expect(try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-scrub-rules").body.contains(#""rules":[]"#))
    }

    @Test func transcriptExportsAreScrubbedWithTheStandardPackAndTheTenantsRules() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        _ = try await agents.client.setAgentScrubRules([API.AgentScrubRuleBody(id: "acme_key", prefix: "acme_", alphabet: "alphanumeric",
                                                                               min_length: 16, max_length: 32)])
        let github = "ghp_" + String(repeating: "aB3dE5fG7h", count: 4).prefix(36)
        let acme = "acme_" + String(repeating: "ab", count: 10)
        let session = try await agents.session()
        let sent = try await agents.client.sendAgentMessage(session.id, text: "use \(github) and \(acme), then \(acme) again")
        _ = try await agents.events(session.id, after: sent.seq) { $0.isTurnEnd }
        let markdown = try await agents.client.agentTranscriptMarkdown(session.id)
        let json = "\(try await agents.client.agentTranscript(session.id))"
        for export in [markdown, json] {
            #expect(!export.contains(github) && !export.contains(acme), "\(export)")
            #expect(export.contains("‹REDACTED:github_token:1›") && export.contains("‹REDACTED:custom_acme_key:1›"), "\(export)")
        }
        // One scrubber per export: the same value keeps its marker.
        #expect(!markdown.contains("custom_acme_key:2"))
        // The JSON export's event data is still JSON.
        let events = try await agents.client.agentTranscript(session.id).events
        #expect(events.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.data.utf8))) is [String: Any] })
    }
}
