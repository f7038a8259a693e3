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
}
