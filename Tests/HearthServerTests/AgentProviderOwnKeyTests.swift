import Foundation
import HearthAgentCore
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthServer
import HearthServerTestKit
import Synchronization
import Testing

/// Members' own provider keys and provider records' extra fields (issue 18): each turn spends the
/// key of the member who sent its message (their own, else the tenant's); a member's key goes only
/// to the address it was set for, opens only for that member, is never shown, and leaves with the
/// member or the record. The real server checks the key it is sent in
/// `AgentSessionLiveTests/aMembersOwnKeyIsWhatTheRealServerIsSent`.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AgentProviderOwnKeyTests {
    static let first = "http://127.0.0.1:9/v1"
    static let second = "http://127.0.0.2:9/v1"

    struct Turn: Sendable, Equatable {
        var sender: String?
        var key: String
        var extras: String?
    }

    /// A tenant with an admin and two members, each with a token.
    struct Team {
        let tenant: String
        let tenantId: String
        let admin: HearthClient
        let one: HearthClient
        let two: HearthClient
        let viewer: String
    }

    static func team(_ agents: AgentServer) async throws -> Team {
        let tenant = "keys-\(UUID().uuidString.prefix(6).lowercased())"
        let created = try await agents.client.createTenant(tenant)
        var clients: [HearthClient] = []
        for (name, role) in [("a", "admin"), ("one", "member"), ("two", "member"), ("v", "viewer")] {
            _ = try await agents.client.createUser(API.CreateUserBody(email: "\(name)@\(tenant).test", tenant: tenant, role: role, password: "a long password"))
            let token = try #require(try await agents.client.createToken(API.CreateTokenBody(name: name, tenant: tenant, user: "\(name)@\(tenant).test")).token)
            clients.append(HearthClient(baseURL: agents.server.url, token: token))
        }
        return Team(tenant: tenant, tenantId: created.id, admin: clients[0], one: clients[1], two: clients[2], viewer: clients[3].token ?? "")
    }

    @Test func eachTurnSpendsItsSendersOwnKeyOrTheTenantsAndOnlyAtTheAddressItWasSetFor() async throws {
        let turns = Mutex<[Turn]>([])
        let log = HistoryLog()
        let agents = try await AgentServer.start { options in
            options.driver = nil
            options.loop = { session, provider, key, _ in
                turns.withLock { $0.append(Turn(sender: session.turnUserId, key: key, extras: provider.extraFields)) }
                return RecordingLoop(log: log, reply: "ok")
            }
        }
        defer { Task { await agents.server.stop() } }
        let team = try await Self.team(agents)
        let tenantKey = "sk-tenant-" + UUID().uuidString
        let oneKey = "sk-one-" + UUID().uuidString
        let twoKey = "sk-two-" + UUID().uuidString
        let set = try await team.admin.setAgentProvider("p", API.AgentProviderBody(kind: "openai", base_url: Self.first, api_key: tenantKey,
                                                                                    extra_fields: ["parallel_tool_calls": .bool(false)]))
        #expect(set.has_key && !set.has_my_key && set.extra_fields == ["parallel_tool_calls": .bool(false)])
        let mine = try await team.one.setMyAgentProviderKey("p", key: oneKey, baseURL: Self.first)
        #expect(mine.has_my_key && mine.has_key)
        #expect(try await team.one.agentProviders().providers.map(\.has_my_key) == [true])
        #expect(try await team.two.agentProviders().providers.map(\.has_my_key) == [false])

        let session = try await team.one.createAgentSession(API.CreateAgentSessionBody(provider: "p", model: "m", new_workspace: API.CreateWorkspaceBody()))
        func send(_ client: HearthClient) async throws -> [API.AgentEventBody] {
            let sent = try await client.sendAgentMessage(session.id, text: "hi")
            var events: [API.AgentEventBody] = []
            try await client.agentEvents(session.id, after: sent.seq) { event in
                events.append(event)
                return !event.isTurnEnd
            }
            return events
        }
        let oneId = try await agents.client.user(email: "one@\(team.tenant).test", tenant: team.tenant).id
        let twoId = try await agents.client.user(email: "two@\(team.tenant).test", tenant: team.tenant).id
        _ = try await send(team.one)
        _ = try await send(team.two)
        _ = try await team.two.setMyAgentProviderKey("p", key: twoKey, baseURL: Self.first)
        _ = try await send(team.two)
        let extras = #"{"parallel_tool_calls":false}"#
        #expect(turns.withLock { $0 } == [Turn(sender: oneId, key: oneKey, extras: extras), Turn(sender: twoId, key: tenantKey, extras: extras),
                                          Turn(sender: twoId, key: twoKey, extras: extras)])

        // The admin moves the record: a member's key is not carried to the new address. Their turn
        // fails, saying why, without a provider call, until they set it again.
        _ = try await team.admin.setAgentProvider("p", API.AgentProviderBody(kind: "openai", base_url: Self.second, api_key: tenantKey))
        let moved = try await send(team.one)
        #expect(moved.last?.fields["outcome"] as? String == "failed")
        #expect(moved.contains { ($0.fields["message"] as? String ?? "").contains("has moved since, so it is not sent") }, "\(moved.map(\.data))")
        #expect(turns.withLock { $0.count } == 3)
        // Setting it again binds it only where the member says it may go: the old address (or
        // any other) is refused while the record is elsewhere, so a member is never tricked into
        // re-keying to an admin's host by the error alone.
        let refused = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/p/my-key",
                                                         body: #"{"api_key":"\#(oneKey)","base_url":"\#(Self.first)"}"#, token: team.one.token)
        #expect(refused.status == 409 && refused.body.contains("127.0.0.2"), "the answer names where the record is: \(refused.body)")
        _ = try await team.one.setMyAgentProviderKey("p", key: oneKey, baseURL: Self.second)
        _ = try await send(team.one)
        #expect(turns.withLock { $0.last } == Turn(sender: oneId, key: oneKey, extras: nil))

        // A member's sealed key opens for that member only: moved to another's row, it fails.
        let store = agents.server.service.agentSessions.store
        _ = try await team.two.deleteMyAgentProviderKey("p")
        try await store.db.write { db in
            try db.execute(sql: "UPDATE agentUserKey SET userId = ? WHERE userId = ?", arguments: [twoId, oneId])
        }
        let swapped = try await send(team.two)
        #expect(swapped.last?.fields["outcome"] as? String == "failed")
        #expect(swapped.contains { ($0.fields["message"] as? String ?? "").contains("cannot be opened") }, "\(swapped.map(\.data))")
        #expect(turns.withLock { $0.count } == 4)
        try await store.db.write { db in try db.execute(sql: "DELETE FROM agentUserKey WHERE userId = ?", arguments: [twoId]) }
        _ = try await team.one.setMyAgentProviderKey("p", key: oneKey, baseURL: Self.second)

        // Viewers set no key; an unknown record, an empty or oversized key are refused; deleting
        // a key that is not there says so.
        let put = { (token: String, name: String, body: String) in
            try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/\(name)/my-key", body: body, token: token)
        }
        let at = #","base_url":"\#(Self.second)"}"#
        #expect(try await put(team.viewer, "p", #"{"api_key":"sk-x""# + at).status == 403)
        #expect(try await put(team.one.token ?? "", "nope", #"{"api_key":"sk-x""# + at).status == 404)
        #expect(try await put(team.one.token ?? "", "p", #"{"api_key":"sk-x"}"#).status == 400, "no address given")
        // Empty, oversized, or with a space or control character (which would reach a header and
        // an error's log line): refused, for a member's key and the tenant's.
        for bad in ["", String(repeating: "k", count: 4097), #"sk-live-abc\n"#, "sk live", #"sk-\u0000x"#, "sk-é"] {
            #expect(try await put(team.one.token ?? "", "p", #"{"api_key":"\#(bad)""# + at).status == 400, "\(bad)")
            let tenantPut = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/p",
                                                               body: #"{"kind":"openai","base_url":"\#(Self.second)","api_key":"\#(bad)"}"#, token: team.admin.token)
            #expect(tenantPut.status == (bad.isEmpty ? 200 : 400), "\(bad): \(tenantPut.body)")
        }
        _ = try await team.admin.setAgentProvider("p", API.AgentProviderBody(kind: "openai", base_url: Self.second, api_key: tenantKey))
        #expect(try await AgentSessionFlowTests.raw(agents, "DELETE", "/v1/agent-providers/p/my-key", token: team.two.token).status == 404)
        // Another tenant's member cannot reach this tenant's record.
        #expect(try await put(agents.server.token, "p", #"{"api_key":"sk-x""# + at).status == 404)

        // No key is ever shown: not in listings, the audit log or the server's log.
        var seen = [try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-providers", token: team.one.token).body,
                    try await AgentSessionFlowTests.raw(agents, "GET", "/v1/agent-sessions/\(session.id)/transcript", token: team.one.token).body,
                    try await team.one.agentTranscriptMarkdown(session.id)]
        seen += try agents.server.service.audit.events().map { "\($0)" }
        seen += agents.logs.all.map(\.text)
        #expect(try agents.server.service.audit.events().contains { $0.action == "agent_provider.own_key.set" })
        for text in seen { #expect(!text.contains(oneKey) && !text.contains(twoKey) && !text.contains(tenantKey)) }

        // A deleted member's keys go with them; a deleted record takes its members' keys.
        _ = try await team.two.setMyAgentProviderKey("p", key: twoKey, baseURL: Self.second)
        try await team.admin.deleteUser(id: twoId)
        #expect(try store.userKey(tenantId: team.tenantId, userId: twoId, provider: "p") == nil)
        #expect(try store.userKey(tenantId: team.tenantId, userId: oneId, provider: "p") != nil)
        _ = try await AgentSessionFlowTests.raw(agents, "DELETE", "/v1/agent-providers/p", token: team.admin.token)
        #expect(try store.userKey(tenantId: team.tenantId, userId: oneId, provider: "p") == nil)
    }

    @Test func aProviderRecordsExtraFieldsAreCheckedAsASessionsAre() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        func put(_ extras: String) async throws -> (status: Int, body: String) {
            let answer = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/x",
                                                            body: #"{"kind":"openai","base_url":"http://127.0.0.1:9/v1","extra_fields":\#(extras)}"#)
            return (answer.status, answer.body)
        }
        #expect(try await put(#"{"tool_choice":"required","logit_bias":{"1":5}}"#).status == 200)
        #expect(try await agents.client.agentProviders().providers.first?.extra_fields?["tool_choice"] == .string("required"))
        for refused in [#"{"model":"other"}"#, #"{"messages":[]}"#, #"{"stream":false}"#,
                        #"{"user":"ghp_\#(String(repeating: "aB3dE5fG7h", count: 4).prefix(36))"}"#,
                        #"{"a":\#(String(repeating: "[", count: 20))\#(String(repeating: "]", count: 20))}"#] {
            let answer = try await put(refused)
            #expect(answer.status == 400, "\(refused): \(answer.body)")
        }
        // Setting the record again without them clears them.
        #expect(try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/x", body: #"{"kind":"openai","base_url":"http://127.0.0.1:9/v1"}"#).status == 200)
        #expect(try await agents.client.agentProviders().providers.first?.extra_fields == nil)
    }
}
