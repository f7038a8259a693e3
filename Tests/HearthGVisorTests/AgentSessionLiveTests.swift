import Foundation
import HearthAgentCore
import HearthAPI
import HearthClient
import HearthLLMTestKit
import HearthServer
import HearthServerTestKit
import Testing

/// A whole agent session against the real model (llama-server + SmolLM2, both wire formats) with
/// its tools in a real gVisor workspace: a forced tool call runs in the workspace, its result goes
/// back, and the provider key is nowhere in the workspace (environment, processes, files), the
/// transcript or the audit log.
@Suite(.serialized, .enabled(if: LlamaTestServer.shouldRun, "the test LLM cache is not installed"), .timeLimit(.minutes(10)))
struct AgentSessionLiveTests {
    @Test(arguments: ["openai", "anthropic"])
    func aForcedToolCallRunsInARealWorkspaceAndTheKeyNeverEntersIt(kind: String) async throws {
        try await LlamaTestServer.withServer(toolForcing: true) { llm in
            let server = try await LiveServer.start { configuration in
                configuration.agents.loopDefaults.toolChoice = .required
                configuration.agents.loopDefaults.finalStepWithoutTools = true
                configuration.agents.loopDefaults.maxTokens = 40
                configuration.agents.loopDefaults.temperature = 0
                configuration.agents.loopDefaults.maxStepsPerTurn = 2
                // The test's llama-server listens on loopback: the operator's allowance.
                configuration.agents.providerHostsAllowed = ["127.0.0.0/8"]
            }
            do {
                try await Self.run(kind: kind, llm: llm, server: server)
                await server.stop()
            } catch {
                await server.stop()
                throw error
            }
        }
    }

    static func run(kind: String, llm: LlamaTestServer, server: LiveServer) async throws {
        let client = server.client
        let key = llm.apiKey
        _ = try await client.setAgentProvider("llama", API.AgentProviderBody(kind: kind, base_url: kind == "openai" ? llm.openAIBaseURL : llm.anthropicBaseURL,
                                                                             api_key: key))
        let ws = try await client.create(API.CreateWorkspaceBody(runtime: "gvisor"))
        let session = try await client.createAgentSession(API.CreateAgentSessionBody(provider: "llama", model: LlamaTestServer.model, workspace: ws.id,
                                                                                     system_prompt: "You are a coding agent."))
        let sent = try await client.sendAgentMessage(session.id, text: "List the files in the workspace.")
        var events: [API.AgentEventBody] = []
        try await client.agentEvents(session.id, after: sent.seq) { event in
            events.append(event)
            return event.type != "agent_idle"
        }
        let types = events.map(\.type)
        #expect(types.contains("tool_call"), "\(types)")
        let fields = events.map { (try? JSONSerialization.jsonObject(with: Data($0.data.utf8))) as? [String: Any] ?? [:] }
        let callIDs = zip(events, fields).filter { $0.0.type == "tool_call" }.compactMap { $0.1["id"] as? String }
        let resultIDs = zip(events, fields).filter { $0.0.type == "tool_result" }.compactMap { $0.1["id"] as? String }
        #expect(!callIDs.isEmpty && callIDs == resultIDs, "every call answered, in order")
        #expect(types.contains("usage"))
        let outcome = fields.last?["outcome"] as? String
        // The small model repeats its call, so a guard (steps or three identical calls) may end the turn.
        #expect(["completed", "step_limit", "loop_detected"].contains(outcome ?? ""), "\(outcome ?? "-") \(types)")

        // The key is nowhere inside the workspace. Everything is read out and searched here, so no
        // process in the workspace ever holds the key to search with.
        let environ = try await client.run(ws.id, ["sh", "-c", "for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat \"$f\"; echo; done 2>/dev/null"])
        #expect(!environ.stdout.isEmpty)
        #expect(!environ.stdoutText.contains(key), "a process in the workspace holds the key")
        let files = try await client.run(ws.id, ["sh", "-c", "tar -cf - /workspace /tmp /root /home /etc /var/tmp 2>/dev/null"])
        #expect(files.stdout.count > 10_000)
        #expect(!String(decoding: files.stdout, as: UTF8.self).contains(key), "a file in the workspace holds the key")
        let transcript = try await client.agentTranscriptMarkdown(session.id) + "\(try await client.agentTranscript(session.id))"
        #expect(!transcript.contains(key))
        let audit = try server.service.audit.events()
        #expect(audit.contains { $0.action == "agent_session.tool" })
        #expect(!audit.map { "\($0)" }.joined().contains(key))
        try await client.delete(ws.id)
    }
}
