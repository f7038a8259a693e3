import Foundation
import HearthAgentCore
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthServer
import HearthServerTestKit
import Synchronization
import Testing

/// A turn loop standing in for the provider and its tool: for the prompt "write X" it makes a
/// `write_file` call that puts X in `notes.txt`, then answers "wrote X". It emits what `AgentLoop`
/// emits, in its order, and records the history each turn was handed. The in-process runtime's
/// workspace is a host directory, and the real tools run in the guest's `/workspace`, so the write
/// is made here, in that directory (`AgentWorkspaceToolsTests` runs the tools in gVisor).
struct WritingLoop: AgentTurnLoop {
    let root: String
    let log: HistoryLog
    /// The prompt "wait" holds its turn here until the test opens the gate.
    var gate = TurnGate()

    func runTurn(history: [ChatMessage], prompt: String, usage: TokenUsage,
                 emit: @escaping @Sendable (AgentLoopEvent) async -> Void) async -> (outcome: TurnOutcome, usage: TokenUsage) {
        log.histories.withLock { $0.append(history) }
        await emit(.message(.user(prompt)))
        if prompt == "wait" {
            await gate.wait()
            await emit(.message(.assistant("waited")))
            await emit(.finished(.completed, steps: 1))
            return (.completed, usage)
        }
        let text = prompt.hasPrefix("write ") ? String(prompt.dropFirst(6)) : prompt
        let arguments = String(decoding: try! JSONSerialization.data(withJSONObject: ["path": root + "/notes.txt", "content": text]), as: UTF8.self)
        let call = ToolCall(id: "call_\(history.count)", name: "write_file", argumentsJSON: arguments)
        await emit(.message(ChatMessage(role: .assistant, content: [.toolUse(id: call.id, name: call.name, argumentsJSON: call.argumentsJSON)])))
        await emit(.toolCall(call))
        let outcome: ToolOutcome
        do {
            try text.write(toFile: root + "/notes.txt", atomically: false, encoding: .utf8)
            outcome = ToolOutcome(content: "wrote \(text.utf8.count) bytes")
        } catch {
            outcome = ToolOutcome(content: "\(error)", isError: true)
        }
        await emit(.toolResult(callID: call.id, name: call.name, outcome: outcome, durationMilliseconds: 1))
        await emit(.message(ChatMessage(role: .user, content: [.toolResult(id: call.id, content: outcome.content, isError: outcome.isError)])))
        await emit(.textDelta("wrote \(text)"))
        await emit(.message(.assistant("wrote \(text)")))
        await emit(.finished(outcome.isError ? .failed : .completed, steps: 2))
        return (outcome.isError ? .failed : .completed, usage)
    }
}

/// Rewind and fork of an agent session (issue 18) on the in-process runtime with the server's own
/// store: the steps a turn records, the files and the conversation going back together, a fork
/// leaving its source untouched, and the refusals.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AgentRewindTests {
    struct Harness {
        let agents: AgentServer
        let data: String
        let log: HistoryLog
        let gate: TurnGate

        static func start(durable: Bool = true) async throws -> Harness {
            let data = ProcessHost.scratchDirectory("hearth-agent-rewind")
            let log = HistoryLog()
            let gate = TurnGate()
            let agents = try await AgentServer.start(data: data, durable: durable) { options in
                options.driver = nil
                options.loop = { session, _, _, _ in WritingLoop(root: data + "/workspaces/\(session.workspaceId)/workspace", log: log, gate: gate) }
            }
            try await agents.provider()
            return Harness(agents: agents, data: data, log: log, gate: gate)
        }

        var client: HearthClient { agents.client }

        func notes(_ workspace: String) -> String? {
            try? String(contentsOfFile: data + "/workspaces/\(workspace)/workspace/notes.txt", encoding: .utf8)
        }

        /// Sends a prompt and waits for its turn to end; returns the outcome.
        func turn(_ id: String, _ text: String) async throws -> String? {
            let sent = try await client.sendAgentMessage(id, text: text)
            let events = try await agents.events(id, after: sent.seq) { $0.isTurnEnd }
            return events.last?.fields["outcome"] as? String
        }
    }

    @Test func aRewindPutsTheFilesAndTheConversationBackToTheStep() async throws {
        let h = try await Harness.start()
        defer { Task { await h.agents.server.stop() } }
        let session = try await h.agents.session()
        #expect(try await h.turn(session.id, "write one") == "completed")
        #expect(try await h.turn(session.id, "write two") == "completed")
        #expect(h.notes(session.workspace) == "two")

        // Step 0 before the first message, then a tool step and a turn step per turn.
        let steps = try await h.client.agentSteps(session.id)
        #expect(steps.map(\.step) == [0, 1, 2, 3, 4], "\(steps)")
        #expect(steps.map(\.kind) == ["start", "tool", "turn", "tool", "turn"])
        #expect(steps.allSatisfy { $0.generation != nil })
        // A turn step after a tool step made no change of its own: it reuses that generation.
        #expect(steps[2].generation == steps[1].generation && steps[3].generation != steps[2].generation)
        let events = try await h.client.agentTranscript(session.id).events
        let marks = events.filter { $0.type == "checkpoint" }
        #expect(marks.map { $0.fields["step"] as? Int } == [0, 1, 2, 3, 4] && marks.map(\.seq) == steps.map(\.seq))
        // Step 0 is before the first message.
        let firstUser = try #require(events.first { $0.type == "message" && $0.fields["role"] as? String == "user" })
        #expect(steps[0].seq < firstUser.seq)

        let rewound = try await h.client.rewindAgentSession(session.id, step: 2)
        #expect(rewound.step == 2 && rewound.seq == steps[2].seq)
        #expect(h.notes(session.workspace) == "one")
        #expect(try await h.client.get(session.workspace).state == "running")
        #expect(try await h.client.agentSteps(session.id).map(\.step) == [0, 1, 2])
        let rewind = try #require(try await h.client.agentTranscript(session.id).events.last)
        #expect(rewind.type == "rewind" && rewind.fields["step"] as? Int == 2 && (rewind.fields["seq"] as? Int).map(Int64.init) == steps[2].seq)

        // The next turn is handed the conversation of step 2: turn one's four messages, not turn two's.
        #expect(try await h.turn(session.id, "write three") == "completed")
        let handed = try #require(h.log.histories.withLock { $0.last })
        #expect(handed.count == 4 && handed.first == .user("write one") && handed.last == .assistant("wrote one"), "\(handed)")
        #expect(h.notes(session.workspace) == "three")
        #expect(try await h.client.agentSteps(session.id).map(\.step) == [0, 1, 2, 3, 4])

        // A message sent after the step is no longer in the conversation: its idempotency key sends it anew.
        let keyed = try await h.client.sendAgentMessage(session.id, text: "write keyed", idempotencyKey: "k-1")
        _ = try await h.agents.events(session.id, after: keyed.seq) { $0.isTurnEnd }
        let stepsBeforeKeyed = try await h.client.agentSteps(session.id)
        _ = try await h.client.rewindAgentSession(session.id, step: 4)
        #expect(stepsBeforeKeyed.count == 7)
        let again = try await h.client.sendAgentMessage(session.id, text: "write keyed", idempotencyKey: "k-1")
        #expect(!again.duplicate && again.seq > keyed.seq)
        _ = try await h.agents.events(session.id, after: again.seq) { $0.isTurnEnd }
        // Steps can be listed a page at a time.
        #expect(try await h.client.agentSteps(session.id).count == 7)
        let page = try await AgentSessionFlowTests.raw(h.agents, "GET", "/v1/agent-sessions/\(session.id)/steps?after=5")
        #expect(page.status == 200 && page.body.contains(#""step":6"#) && !page.body.contains(#""step":5"#), "\(page.body)")

        // Back to the start: no file, no conversation.
        _ = try await h.client.rewindAgentSession(session.id, step: 0)
        #expect(h.notes(session.workspace) == nil)
        #expect(try await h.turn(session.id, "write four") == "completed")
        #expect(h.log.histories.withLock { $0.last }?.isEmpty == true)

        // The Markdown transcript is the conversation as it now is; the JSON one keeps every event.
        let markdown = try await h.client.agentTranscriptMarkdown(session.id)
        #expect(markdown.contains("write four") && !markdown.contains("write one") && markdown.contains("Rewound to step 0"), "\(markdown)")
        #expect(try await h.client.agentTranscript(session.id).events.contains { $0.type == "message" && $0.fields["text"] as? String == "write one" })
    }

    @Test func aForkFromAStepLeavesTheOriginalUntouched() async throws {
        let h = try await Harness.start()
        defer { Task { await h.agents.server.stop() } }
        let session = try await h.agents.session()
        #expect(try await h.turn(session.id, "write one") == "completed")
        #expect(try await h.turn(session.id, "write two") == "completed")
        let stepsBefore = try await h.client.agentSteps(session.id)
        let eventsBefore = try await h.client.agentTranscript(session.id).events

        let fork = try await h.client.forkAgentSession(session.id, step: 2)
        #expect(fork.id != session.id && fork.workspace != session.workspace && fork.state == "idle" && fork.tokens_used == 0)
        #expect(h.notes(fork.workspace) == "one")
        // The original: its files, its steps and its events as they were.
        #expect(h.notes(session.workspace) == "two")
        #expect(try await h.client.agentSteps(session.id) == stepsBefore)
        #expect(try await h.client.agentTranscript(session.id).events.map(\.seq) == eventsBefore.map(\.seq))

        // The fork's conversation is the source's up to step 2, then a note of where it came from.
        let forkEvents = try await h.client.agentTranscript(fork.id).events
        let cut = stepsBefore[2].seq
        #expect(forkEvents.dropLast().map(\.seq) == eventsBefore.filter { $0.seq <= cut }.map(\.seq))
        #expect(forkEvents.last?.fields["status"] as? String == "forked" && forkEvents.last?.fields["from"] as? String == session.id)
        // Its steps up to 2; only step 2's files are in its own workspace.
        let forkSteps = try await h.client.agentSteps(fork.id)
        #expect(forkSteps.map(\.step) == [0, 1, 2] && forkSteps[0].generation == nil && forkSteps[1].generation == nil && forkSteps[2].generation != nil)

        // It goes on from step 2, and can be rewound to it.
        #expect(try await h.turn(fork.id, "write three") == "completed")
        #expect(h.log.histories.withLock { $0.last }?.count == 4)
        #expect(h.notes(fork.workspace) == "three" && h.notes(session.workspace) == "two")
        _ = try await h.client.rewindAgentSession(fork.id, step: 2)
        #expect(h.notes(fork.workspace) == "one")
        // A step whose files are in the source's workspace cannot be rewound to here.
        await #expect(throws: (any Error).self) { _ = try await h.client.rewindAgentSession(fork.id, step: 1) }

        // Without a step: the latest.
        let latest = try await h.client.forkAgentSession(session.id)
        #expect(h.notes(latest.workspace) == "two")
        #expect(try await h.client.agentSteps(latest.id).map(\.step) == [0, 1, 2, 3, 4])
    }

    @Test func rewindAndForkAreRefusedWhenTheyCannotBeDone() async throws {
        let h = try await Harness.start()
        defer { Task { await h.agents.server.stop() } }
        let session = try await h.agents.session()
        func raw(_ method: String, _ path: String, _ body: String? = nil) async throws -> (status: Int, body: String) {
            let answer = try await AgentSessionFlowTests.raw(h.agents, method, path, body: body)
            return (answer.status, answer.body)
        }
        // No step yet.
        #expect(try await raw("POST", "/v1/agent-sessions/\(session.id)/fork", "{}").status == 404)
        #expect(try await raw("POST", "/v1/agent-sessions/\(session.id)/rewind", #"{"step":0}"#).status == 404)
        #expect(try await h.turn(session.id, "write one") == "completed")
        // Not a step, a negative one, not a number.
        #expect(try await raw("POST", "/v1/agent-sessions/\(session.id)/rewind", #"{"step":9}"#).status == 404)
        #expect(try await raw("POST", "/v1/agent-sessions/\(session.id)/rewind", #"{"step":-1}"#).status == 400)
        #expect(try await raw("POST", "/v1/agent-sessions/\(session.id)/rewind", #"{"step":"1"}"#).status == 400)
        #expect(try await raw("POST", "/v1/agent-sessions/\(session.id)/fork", #"{"step":99999999999999999999}"#).status == 400)
        // Another tenant's session is not found.
        #expect(try await raw("POST", "/v1/agent-sessions/as_nope/rewind", #"{"step":0}"#).status == 404)
        // Nothing changed.
        #expect(h.notes(session.workspace) == "one")
        #expect(try await h.client.agentSteps(session.id).map(\.step) == [0, 1, 2])

        // Another session working in the same workspace: a rewind would change files under its turn.
        let colleague = try await h.agents.session(workspace: session.workspace)
        let waiting = try await h.client.sendAgentMessage(colleague.id, text: "wait")
        _ = try await h.agents.events(colleague.id, after: waiting.seq) { $0.type == "agent_busy" }
        let shared = try await raw("POST", "/v1/agent-sessions/\(session.id)/rewind", #"{"step":0}"#)
        #expect(shared.status == 409 && shared.body.contains(colleague.id), "\(shared.body)")
        // And its own turn running: refused too.
        let ownWait = try await h.client.sendAgentMessage(session.id, text: "wait")
        _ = try await h.agents.events(session.id, after: ownWait.seq) { $0.type == "agent_busy" }
        #expect(try await raw("POST", "/v1/agent-sessions/\(session.id)/rewind", #"{"step":0}"#).status == 409)
        h.gate.open()
        _ = try await h.agents.events(colleague.id, after: waiting.seq) { $0.isTurnEnd }
        _ = try await h.agents.events(session.id, after: ownWait.seq) { $0.isTurnEnd }
        #expect(h.notes(session.workspace) == "one")
        _ = try await h.client.rewindAgentSession(session.id, step: 0)
        #expect(h.notes(session.workspace) == nil)
    }

    @Test func aServerWithoutAStoreRecordsStepsWhoseFilesCannotBePutBack() async throws {
        let h = try await Harness.start(durable: false)
        defer { Task { await h.agents.server.stop() } }
        let session = try await h.agents.session()
        #expect(try await h.turn(session.id, "write one") == "completed")
        let steps = try await h.client.agentSteps(session.id)
        #expect(steps.map(\.step) == [0, 1, 2] && steps.allSatisfy { $0.generation == nil })
        let refused = try await AgentSessionFlowTests.raw(h.agents, "POST", "/v1/agent-sessions/\(session.id)/rewind", body: #"{"step":0}"#)
        #expect(refused.status == 409 && refused.body.contains("no generation"), "\(refused.body)")
        #expect(h.notes(session.workspace) == "one")
    }
}
