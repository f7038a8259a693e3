import Foundation
import HearthAPI
import HearthClient
import HearthImages
import HearthLLMTestKit
import Logging
import Testing

/// `kill -9` of a real `hearth serve` process in the middle of an agent turn (issue 18), with the
/// real model and a real gVisor workspace. Every tool in the workspace is held by a gate (the
/// tools' commands are shadowed in `/usr/local/bin` by wrappers that wait for `/workspace/.go`), so
/// the kill lands while a tool call is in flight, not by luck. After a restart on the same data
/// directory: the transcript holds everything stored before the kill, the interrupted call is
/// closed (a result marked `interrupted`, the turn ended), and a new message continues the session.
@Suite(.serialized, .enabled(if: LlamaTestServer.shouldRun, "the test LLM cache is not installed"), .timeLimit(.minutes(10)))
struct AgentServerKillTests {
    /// The commands the agent's tools run (`bash`, `head`, `find`, `grep`, `sh`), each shadowed by
    /// a wrapper that waits for the gate file before it runs the real one.
    static let gateScript = """
        set -e
        for tool in bash head find grep sh; do
          real=$(command -v $tool)
          printf '#!/bin/sh\\nwhile [ ! -e /workspace/.go ]; do sleep 0.05; done\\nexec %s "$@"\\n' "$real" > /usr/local/bin/$tool
          chmod 755 /usr/local/bin/$tool
        done
        """

    @Test func killMinus9MidTurnKeepsTheTranscriptClosesTheCallAndTheSessionGoesOn() async throws {
        let root = try #require(ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"], "run through scripts/test.sh")
        let data = root + "/agent-kill-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/images", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: data + "/images", withDestinationPath: root + "/images")
        _ = try await ImageStore(root: root + "/images", logger: Logger(label: "hearth.test")).base()

        try await LlamaTestServer.withServer(toolForcing: true) { llm in
            let first = try await ServeProcess.start(data: data, log: data + "/serve-1.log", arguments: ["--agent-provider-allow", "127.0.0.0/8"])
            var second: ServeProcess?
            do {
                let client = first.client
                _ = try await client.setAgentProvider("llama", API.AgentProviderBody(kind: "openai", base_url: llm.openAIBaseURL, api_key: llm.apiKey))
                let ws = try await client.create(API.CreateWorkspaceBody(runtime: "gvisor"))
                let gated = try await client.run(ws.id, ["/bin/sh", "-c", Self.gateScript])
                #expect(gated.exit?.code == 0, "\(gated.stderrText)")
                // `hearth serve`'s loop leaves tool choice to the model; the session forces calls.
                let session = try await client.createAgentSession(API.CreateAgentSessionBody(
                    provider: "llama", model: LlamaTestServer.model, workspace: ws.id, system_prompt: "You are a coding agent.",
                    extra_fields: ["tool_choice": .string("required"), "max_tokens": .int(40), "temperature": .double(0)]))
                let sent = try await client.sendAgentMessage(session.id, text: "List the files in the workspace.")
                var before: [API.AgentEventBody] = []
                try await client.agentEvents(session.id, after: 0) { event in
                    before.append(event)
                    return event.type != "tool_call"
                }
                let call = try #require(before.last.map(Self.fields))
                let callId = try #require(call["id"] as? String)
                // The tool waits at the gate: the call is in flight when the server dies.
                try await first.kill9()

                second = try await ServeProcess.start(data: data, log: data + "/serve-2.log", arguments: ["--agent-provider-allow", "127.0.0.0/8"])
                let again = try #require(second).client
                let after = try await again.agentTranscript(session.id).events
                // Everything stored before the kill is there, unchanged and in order.
                #expect(Array(after.prefix(before.count)).map(\.seq) == before.map(\.seq))
                #expect(Array(after.prefix(before.count)).map(\.data) == before.map(\.data))
                try #require(after.count >= before.count, "the transcript lost events: \(after.count) < \(before.count)")
                #expect(after.map(\.seq) == Array(1...Int64(after.count)))
                #expect(after.contains { $0.seq == sent.seq && $0.type == "message" })
                // The interrupted call is closed, once, and the turn is over.
                let results = after.filter { $0.type == "tool_result" && Self.fields($0)["id"] as? String == callId }
                #expect(results.count == 1 && Self.fields(results[0])["interrupted"] as? Bool == true, "\(after.map(\.data))")
                #expect(after.last?.type == "agent_idle" && Self.fields(after.last!)["outcome"] as? String == "interrupted")
                #expect(try await again.agentSession(session.id).state == "idle")

                // A new message continues the session: the model is called with the closed history.
                _ = try await again.run(ws.id, ["/bin/touch", "/workspace/.go"])
                let next = try await again.sendAgentMessage(session.id, text: "Now show the first file.")
                var turn: [API.AgentEventBody] = []
                try await again.agentEvents(session.id, after: next.seq) { event in
                    turn.append(event)
                    return event.type != "agent_idle"
                }
                #expect(turn.contains { $0.type == "usage" }, "\(turn.map(\.data))")
                #expect(turn.contains { $0.type == "tool_result" && Self.fields($0)["interrupted"] == nil })
                let outcome = turn.last.map(Self.fields)?["outcome"] as? String ?? ""
                #expect(["completed", "step_limit", "loop_detected"].contains(outcome), "\(turn.map(\.data))")
                try await again.delete(ws.id)
                await second?.terminate()
            } catch {
                if first.process.isRunning { await first.terminate() }
                await second?.terminate()
                let logs = ["serve-1.log", "serve-2.log"].compactMap { try? String(contentsOfFile: data + "/" + $0, encoding: .utf8) }.joined(separator: "\n---\n")
                throw ServeFailure(what: "\(error)", log: logs)
            }
        }
    }

    static func fields(_ event: API.AgentEventBody) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any] ?? [:]
    }
}
