import Foundation
import HearthAgentCore
import HearthAPI
import HearthClient
import HearthHost
import HearthLLMTestKit
import Logging
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
        try await Self.withModelServer { llm, server in try await Self.run(kind: kind, llm: llm, server: server) }
    }

    /// The real model, its tool calls forced, and a server whose turns call it (at temperature 0,
    /// `maxTokens` a step, `steps` a turn); the server stopped whatever the body does.
    static func withModelServer(maxTokens: Int = 40, steps: Int = 2, finalStepWithoutTools: Bool = true, dataDirectory: String? = nil,
                                configure: (inout HearthServerConfiguration) -> Void = { _ in },
                                _ body: (LlamaTestServer, LiveServer) async throws -> Void) async throws {
        try await LlamaTestServer.withServer(toolForcing: true) { llm in
            let server = try await LiveServer.start(dataDirectory: dataDirectory) { configuration in
                configuration.agents.loopDefaults.toolChoice = .required
                configuration.agents.loopDefaults.finalStepWithoutTools = finalStepWithoutTools
                configuration.agents.loopDefaults.maxTokens = maxTokens
                configuration.agents.loopDefaults.temperature = 0
                configuration.agents.loopDefaults.maxStepsPerTurn = steps
                // The test's llama-server listens on loopback: the operator's allowance.
                configuration.agents.providerHostsAllowed = ["127.0.0.0/8"]
                configure(&configuration)
            }
            do {
                try await body(llm, server)
                await server.stop()
            } catch {
                await server.stop()
                throw error
            }
        }
    }

    /// Rewind and fork with the real model and a real gVisor workspace on the server's own store:
    /// the model's tool steps commit the workspace, a fork of the latest step carries that step's
    /// files (not a later change by hand) to a new workspace, and a rewind to step 0 puts the files
    /// and the conversation back to before the first message (the workspace restarted), leaving
    /// the fork as it was.
    @Test func rewindAndForkPutARealWorkspaceBackToAStep() async throws {
        let root = try #require(ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"], "run through scripts/test.sh")
        let data = root + "/agent-rewind-\(UUID().uuidString.prefix(8))"
        let volumes = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:], logger: Logger(label: "hearth.test"))
        try await Self.withModelServer(dataDirectory: data, configure: { configuration in
            configuration.workspaceVolumes = volumes
            configuration.commitInterval = nil
        }) { llm, server in try await Self.rewind(llm: llm, server: server) }
    }

    static func rewind(llm: LlamaTestServer, server: LiveServer) async throws {
        let client = server.client
        _ = try await client.setAgentProvider("llama", API.AgentProviderBody(kind: "openai", base_url: llm.openAIBaseURL, api_key: llm.apiKey))
        let ws = try await client.create(API.CreateWorkspaceBody(runtime: "gvisor"))
        func marker(_ workspace: String) async throws -> String {
            try await client.run(workspace, ["cat", "/workspace/marker"]).stdoutText
        }
        _ = try await client.run(ws.id, ["sh", "-c", "echo v0 > /workspace/marker"])
        let session = try await client.createAgentSession(API.CreateAgentSessionBody(provider: "llama", model: LlamaTestServer.model, workspace: ws.id,
                                                                                     system_prompt: "You are a coding agent."))
        func turn(_ text: String) async throws -> [API.AgentEventBody] {
            let sent = try await client.sendAgentMessage(session.id, text: text)
            var events: [API.AgentEventBody] = []
            try await client.agentEvents(session.id, after: sent.seq) { event in
                events.append(event)
                return event.type != "agent_idle"
            }
            return events
        }
        let first = try await turn("List the files in the workspace.")
        #expect(first.contains { $0.type == "checkpoint" }, "\(first.map(\.type))")
        let steps = try await client.agentSteps(session.id)
        #expect(steps.first?.kind == "start" && steps.count >= 2, "\(steps)")
        #expect(steps.allSatisfy { $0.generation != nil }, "\(steps)")
        // A change by hand after the turn: in no step.
        _ = try await client.run(ws.id, ["sh", "-c", "echo v1 > /workspace/marker"])

        // A fork of the latest step has the files of that step, and leaves the original as it is.
        let fork = try await client.forkAgentSession(session.id)
        #expect(try await marker(fork.workspace) == "v0\n")
        #expect(try await marker(ws.id) == "v1\n")
        _ = try await client.run(fork.workspace, ["sh", "-c", "echo fork > /workspace/marker"])

        let rewound = try await client.rewindAgentSession(session.id, step: 0)
        #expect(rewound.step == 0)
        #expect(try await client.get(ws.id).state == "running")
        #expect(try await marker(ws.id) == "v0\n")
        #expect(try await client.agentSteps(session.id).map(\.step) == [0])
        let markdown = try await client.agentTranscriptMarkdown(session.id)
        #expect(!markdown.contains("List the files") && markdown.contains("Rewound to step 0"), "\(markdown)")
        // The fork is its own: the rewind changed neither its files nor its conversation.
        #expect(try await marker(fork.workspace) == "fork\n")
        #expect(try await client.agentTranscriptMarkdown(fork.id).contains("List the files"))

        // The session goes on from step 0 with the real model: the same first turn, from an empty history.
        let again = try await turn("List the files in the workspace.")
        #expect(again.contains { $0.type == "usage" }, "\(again.map(\.type))")
        try await client.delete(fork.workspace)
        try await client.delete(ws.id)
    }

    /// A session's extra fields go to the real server unchanged: `max_tokens: 1` replaces the
    /// loop's own 40, and the server's usage says it made one token.
    @Test func aSessionsExtraFieldsReachTheRealServer() async throws {
        try await Self.withModelServer(steps: 1, finalStepWithoutTools: false) { llm, server in
            let client = server.client
            _ = try await client.setAgentProvider("llama", API.AgentProviderBody(kind: "openai", base_url: llm.openAIBaseURL, api_key: llm.apiKey))
            let session = try await client.createAgentSession(API.CreateAgentSessionBody(
                provider: "llama", model: LlamaTestServer.model, new_workspace: API.CreateWorkspaceBody(runtime: "gvisor"),
                extra_fields: ["max_tokens": .int(1)]))
            let sent = try await client.sendAgentMessage(session.id, text: "List the files in the workspace.")
            var usage: [String: Any]?
            try await client.agentEvents(session.id, after: sent.seq) { event in
                if event.type == "usage", usage == nil {
                    usage = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any]
                }
                return event.type != "agent_idle"
            }
            #expect(usage?["output_tokens"] as? Int == 1, "\(usage ?? [:])")
            try await client.delete(session.workspace)
        }
    }

    /// A member's own key is what the real server (which checks keys) is sent for their turns,
    /// while a colleague's turn on the same session spends the tenant's key, wrong here, and fails
    /// with the server's refusal. The record's extra fields reach the server too (`max_tokens: 1`).
    @Test func aMembersOwnKeyIsWhatTheRealServerIsSent() async throws {
        try await Self.withModelServer(steps: 1, finalStepWithoutTools: false) { llm, server in
            let operatorClient = server.client
            let tenant = "own-key-\(UUID().uuidString.prefix(6).lowercased())"
            _ = try await operatorClient.createTenant(tenant)
            var clients: [HearthClient] = []
            for (name, role) in [("a", "admin"), ("one", "member"), ("two", "member")] {
                _ = try await operatorClient.createUser(API.CreateUserBody(email: "\(name)@\(tenant).test", tenant: tenant, role: role, password: "a long password"))
                let token = try #require(try await operatorClient.createToken(API.CreateTokenBody(name: name, tenant: tenant, user: "\(name)@\(tenant).test")).token)
                clients.append(HearthClient(baseURL: server.url, token: token))
            }
            let (admin, one, two) = (clients[0], clients[1], clients[2])
            _ = try await admin.setAgentProvider("llama", API.AgentProviderBody(kind: "openai", base_url: llm.openAIBaseURL, api_key: "sk-not-the-servers-key",
                                                                                extra_fields: ["max_tokens": .int(1)]))
            _ = try await one.setMyAgentProviderKey("llama", key: llm.apiKey, baseURL: llm.openAIBaseURL)
            let session = try await one.createAgentSession(API.CreateAgentSessionBody(
                provider: "llama", model: LlamaTestServer.model, new_workspace: API.CreateWorkspaceBody(runtime: "gvisor")))
            func turn(_ client: HearthClient) async throws -> [API.AgentEventBody] {
                let sent = try await client.sendAgentMessage(session.id, text: "List the files in the workspace.")
                var events: [API.AgentEventBody] = []
                try await client.agentEvents(session.id, after: sent.seq) { event in
                    events.append(event)
                    return event.type != "agent_idle"
                }
                return events
            }
            func fields(_ event: API.AgentEventBody?) -> [String: Any] {
                event.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.data.utf8))) as? [String: Any] } ?? [:]
            }
            let mine = try await turn(one)
            #expect(fields(mine.first { $0.type == "usage" })["output_tokens"] as? Int == 1, "\(mine.map(\.data))")
            #expect(fields(mine.last)["outcome"] as? String != "failed", "\(mine.map(\.data))")
            let theirs = try await turn(two)
            #expect(fields(theirs.last)["outcome"] as? String == "failed", "\(theirs.map(\.data))")
            #expect(!theirs.contains { $0.type == "usage" })
            #expect(theirs.contains { $0.type == "error_event" })
            try await one.delete(session.workspace)
        }
    }

    /// A tenant's own scrub rule applies to a real turn: the prompt's value is replaced before it
    /// is stored as what the provider is sent, and the hit is a scrub event and an audit event
    /// naming the rule, never the value.
    @Test func aTenantsOwnScrubRuleRedactsAPromptBeforeTheProvider() async throws {
        try await Self.withModelServer(maxTokens: 20, steps: 1, finalStepWithoutTools: false) { llm, server in
            let client = server.client
            let value = "acme_" + String(repeating: "ab", count: 10)
            let rule = API.AgentScrubRuleBody(id: "acme_key", prefix: "acme_", alphabet: "alphanumeric", min_length: 16, max_length: 32)
            _ = try await client.setAgentScrubRules([rule])
            _ = try await client.setAgentProvider("llama", API.AgentProviderBody(kind: "openai", base_url: llm.openAIBaseURL, api_key: llm.apiKey))
            let session = try await client.createAgentSession(API.CreateAgentSessionBody(
                provider: "llama", model: LlamaTestServer.model, new_workspace: API.CreateWorkspaceBody(runtime: "gvisor")))
            let sent = try await client.sendAgentMessage(session.id, text: "Deploy with the key \(value) please.")
            var scrubs: [[String: Any]] = []
            try await client.agentEvents(session.id, after: sent.seq) { event in
                if event.type == "scrub" { scrubs.append((try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any] ?? [:]) }
                return event.type != "agent_idle"
            }
            #expect(scrubs.contains { $0["rule"] as? String == "custom_acme_key" && $0["target"] as? String == "prompt" }, "\(scrubs)")
            let sentToProvider = try server.service.agentSessions.store.history(session.id).joined()
            #expect(sentToProvider.contains("‹REDACTED:custom_acme_key:1›") && !sentToProvider.contains(value), "\(sentToProvider)")
            let audit = try server.service.audit.events()
            #expect(audit.contains { $0.action == "agent_session.scrub" && $0.target == "custom_acme_key" })
            #expect(!audit.map { "\($0)" }.joined().contains(value))
            try await client.delete(session.workspace)
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
