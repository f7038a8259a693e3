import Foundation
import HearthAgentCore
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthServer
import HearthServerTestKit
import Synchronization
import Testing

/// A session's extra request fields (issue 18): kept as given, handed to every turn's loop (the
/// adapters merge them: `RequestBodyTests`; the real server honours them:
/// `AgentSessionLiveTests/aSessionsExtraFieldsReachTheRealServer`), and refused when they would
/// replace what the session sets, are too big, or carry a secret.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AgentExtraFieldsTests {
    @Test func extraFieldsAreKeptAndHandedToEveryTurnsLoop() async throws {
        let seen = Mutex<[String?]>([])
        let log = HistoryLog()
        let agents = try await AgentServer.start(durable: true) { options in
            options.driver = nil
            options.loop = { session, _, _, _ in
                seen.withLock { $0.append(session.extraFields) }
                return RecordingLoop(log: log, reply: "ok")
            }
        }
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let extras: [String: API.JSONValue] = ["logit_bias": .object(["39428": .int(10)]), "parallel_tool_calls": .bool(false),
                                               "tool_choice": .string("required"), "reasoning": .object(["effort": .string("low")]),
                                               "top_p": .double(0.5), "stop": .array([.string("\n\n"), .null])]
        let created = try await agents.client.createAgentSession(API.CreateAgentSessionBody(provider: "local", model: "m", new_workspace: API.CreateWorkspaceBody(),
                                                                                            extra_fields: extras))
        #expect(created.extra_fields == extras)
        #expect(try await agents.client.agentSession(created.id).extra_fields == extras)
        for text in ["one", "two"] {
            let sent = try await agents.client.sendAgentMessage(created.id, text: text)
            _ = try await agents.events(created.id, after: sent.seq) { $0.isTurnEnd }
        }
        let handed = seen.withLock { $0 }
        #expect(handed.count == 2)
        let object = try #require(handed.first.flatMap { $0 }.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any])
        #expect((object["logit_bias"] as? [String: Any])?["39428"] as? Int == 10 && object["parallel_tool_calls"] as? Bool == false)
        #expect(object["tool_choice"] as? String == "required" && object["top_p"] as? Double == 0.5)
        #expect(handed[0] == handed[1])
        // A fork keeps them.
        #expect(try await agents.client.forkAgentSession(created.id).extra_fields == extras)
        // None given: none kept.
        #expect(try await agents.session().extra_fields == nil)
    }

    @Test func extraFieldsThatReplaceTheSessionsOwnOrCarryASecretAreRefused() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        func create(_ extras: String) async throws -> (status: Int, body: String) {
            let body = #"{"provider":"local","model":"m","new_workspace":{},"extra_fields":\#(extras)}"#
            let answer = try await AgentSessionFlowTests.raw(agents, "POST", "/v1/agent-sessions", body: body)
            return (answer.status, answer.body)
        }
        for reserved in ["model", "messages", "system", "stream", "tools", "stream_options", "n"] {
            let refused = try await create(#"{"\#(reserved)":1}"#)
            #expect(refused.status == 400 && refused.body.contains("may not set \(reserved)"), "\(refused.body)")
        }
        let big = try await create(#"{"stop":"\#(String(repeating: "x", count: 17_000))"}"#)
        #expect(big.status == 400 && big.body.contains("16384"), "\(big.body)")
        let token = "ghp_" + String(repeating: "aB3dE5fG7h", count: 4).prefix(36)
        let secret = try await create(#"{"metadata":{"note":"\#(token)"}}"#)
        #expect(secret.status == 400 && secret.body.contains("looks like a secret") && !secret.body.contains(token), "\(secret.body)")
        // Nested deeper than a provider's settings go (a response wrapping the session could not
        // be encoded), or too many values.
        let deep = try await create(#"{"a":\#(String(repeating: "[", count: 40))\#(String(repeating: "]", count: 40))}"#)
        #expect(deep.status == 400 && deep.body.contains("nests at most"), "\(deep.body)")
        let wide = try await create(#"{"a":[\#(Array(repeating: "0", count: 2000).joined(separator: ","))]}"#)
        #expect(wide.status == 400, "\(wide.body)")
        // Not an object, and JSON nested past any sense, are refused by the decoder.
        #expect(try await create("[1,2]").status == 400)
        #expect(try await create(String(repeating: "[", count: 10_000)).status == 400)
        // Nothing was made.
        #expect(try await agents.client.agentSessions().isEmpty)
    }
}
