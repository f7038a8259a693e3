import Foundation
import HearthServerTestKit
import Testing

/// A tenant admin's provider `base_url` is a connection the server makes from the host with the
/// tenant's key, and its answer streams back into the session: it may not name loopback, the cloud
/// metadata address or a private network unless the operator allowed that range (SSRF).
@Suite(.timeLimit(.minutes(2)))
struct AgentProviderHostTests {
    @Test func aBaseURLOnLoopbackMetadataOrAPrivateNetworkIsRefusedUnlessTheOperatorAllowsIt() async throws {
        let agents = try await AgentServer.start(providerHostsAllowed: [])
        defer { Task { await agents.server.stop() } }
        for url in ["http://127.0.0.1:7070/v1", "http://169.254.169.254/latest", "http://10.1.2.3/v1", "http://192.168.0.1/v1",
                    "http://[::1]:8080/v1", "http://[::ffff:127.0.0.1]/v1", "http://0.0.0.0:7070/v1", "http://localhost:7070/v1",
                    "http://[fe80::1]/v1", "http://224.0.0.1/v1"] {
            let body = #"{"kind":"openai","base_url":"\#(url)","api_key":"k"}"#
            let answer = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/inner", body: body)
            #expect(answer.status == 403, "\(url): \(answer.status) \(answer.body)")
            #expect(answer.body.contains("--agent-provider-allow"), "\(url): \(answer.body)")
        }
        // A public address, and a name that does not resolve yet, may be set.
        for url in ["http://203.0.113.7/v1", "http://provider.invalid/v1"] {
            let body = #"{"kind":"openai","base_url":"\#(url)","api_key":"k"}"#
            let answer = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/outer", body: body)
            #expect(answer.status == 200, "\(url): \(answer.status) \(answer.body)")
        }
    }

    /// From the same review: a second admin moving a provider to a host of their own must give the
    /// key again, or the stored write-only key would follow the new base URL there.
    @Test func theStoredKeyDoesNotFollowANewBaseURL() async throws {
        let agents = try await AgentServer.start(providerHostsAllowed: [])
        defer { Task { await agents.server.stop() } }
        let first = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/p", body: #"{"kind":"openai","base_url":"http://203.0.113.7/v1","api_key":"k"}"#)
        #expect(first.status == 200, "\(first.body)")
        let moved = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/p", body: #"{"kind":"openai","base_url":"http://203.0.113.99/v1"}"#)
        #expect(moved.status == 400 && moved.body.contains("api_key"), "\(moved.status) \(moved.body)")
        let same = try await AgentSessionFlowTests.raw(agents, "PUT", "/v1/agent-providers/p", body: #"{"kind":"anthropic","base_url":"http://203.0.113.7/v1"}"#)
        #expect(same.status == 200, "\(same.body)")
    }

    /// And: `on_idle: delete` on a session attached to an existing workspace (a colleague's) would
    /// delete that workspace when the session idles; only a session's own new workspace may go.
    @Test func deleteOnIdleIsOnlyForTheSessionsOwnWorkspace() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let existing = try await agents.session()
        let body = #"{"provider":"local","model":"m","workspace":"\#(existing.workspace)","on_idle":"delete"}"#
        let refused = try await AgentSessionFlowTests.raw(agents, "POST", "/v1/agent-sessions", body: body)
        #expect(refused.status == 400 && refused.body.contains("on_idle"), "\(refused.status) \(refused.body)")
    }
}
