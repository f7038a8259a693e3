import Foundation
import GRDB
import HearthAgentCore
import HearthAPI
import HearthClient
import HearthControlPlane
@testable import HearthServer
import HearthServerTestKit
import Synchronization
import Testing

/// Histories a recording loop was handed, one per turn.
final class HistoryLog: Sendable {
    let histories = Mutex<[[ChatMessage]]>([])
}

/// A turn loop standing in for the provider: records the history it is given and answers with a
/// fixed reply, emitting what the real loop emits (the user's message, deltas, the answer).
struct RecordingLoop: AgentTurnLoop {
    let log: HistoryLog
    let reply: String

    func runTurn(history: [ChatMessage], prompt: String, usage: TokenUsage,
                 emit: @escaping @Sendable (AgentLoopEvent) async -> Void) async -> (outcome: TurnOutcome, usage: TokenUsage) {
        log.histories.withLock { $0.append(history) }
        await emit(.message(.user(prompt)))
        await emit(.textDelta(reply))
        await emit(.message(.assistant(reply)))
        await emit(.finished(.completed, steps: 1))
        return (.completed, usage)
    }
}

/// Limits around agent turns: the provider client shut down with the server, the per-tenant cap on
/// running turns, and the byte budget of the history sent to the provider.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AgentSessionLimitsTests {
    @Test func stoppingTheServerShutsDownTheProviderClientATurnMade() async throws {
        // The server's own loop (no scripted driver): the turn makes the provider client and then
        // tries the closed port 9 while the server stops under it.
        let agents = try await AgentServer.start { $0.driver = nil }
        try await agents.provider()
        let session = try await agents.session()
        let http = agents.server.service.providerHTTP
        #expect(http.clientsShutDown == 0 && !http.isStopped)
        _ = try await agents.client.sendAgentMessage(session.id, text: "hello")
        _ = try await agents.events(session.id) { $0.type == "agent_busy" }
        try await AgentSessionFlowTests.waitUntil { http.hasClient }
        await agents.server.stop()
        #expect(http.isStopped)
        #expect(http.clientsShutDown == 1)
    }

    @Test func aSendBeyondTheTenantsRunningTurnCapIsRefusedAndRecordsNothing() async throws {
        let agents = try await AgentServer.start { $0.maxRunningTurnsPerTenant = 2 }
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let running = [try await agents.session(), try await agents.session()]
        let third = try await agents.session()
        for session in running { _ = try await agents.client.sendAgentMessage(session.id, text: "tool") }
        let before = try await agents.client.agentTranscript(third.id).events
        let refused = try await AgentSessionFlowTests.raw(agents, "POST", "/v1/agent-sessions/\(third.id)/messages", body: #"{"text":"hello"}"#,
                                                          headers: [("Idempotency-Key", "third-1")])
        #expect(refused.status == 429)
        #expect(refused.body.contains(#""code":"too_many_running_turns""#), "\(refused.body)")
        #expect(refused.retryAfter == "5")
        // Nothing of the refused message was stored, and the session is as it was.
        #expect(try await agents.client.agentTranscript(third.id).events.map(\.seq) == before.map(\.seq))
        #expect(try await agents.client.agentSession(third.id).state == "idle")
        agents.gate.open()
        for session in running {
            try await AgentSessionFlowTests.waitUntil { try await agents.client.agentSession(session.id).state == "idle" }
        }
        // The same idempotency key now sends the message for the first time.
        let sent = try await agents.client.sendAgentMessage(third.id, text: "hello", idempotencyKey: "third-1")
        #expect(!sent.duplicate)
        let after = try await agents.events(third.id, after: sent.seq) { $0.isTurnEnd }
        #expect(after.last?.fields["outcome"] as? String == "completed")
        let users = try await agents.client.agentTranscript(third.id).events.filter { $0.type == "message" && $0.fields["role"] as? String == "user" }
        #expect(users.count == 1)
    }

    static func encoded(_ message: ChatMessage) throws -> String {
        String(decoding: try JSONEncoder().encode(message), as: UTF8.self)
    }

    @Test func theHistorySentKeepsTheNewestWholeTurnsWithinItsBudget() throws {
        let store = try AgentSessionStore(db: try DatabaseQueue())
        let messages: [ChatMessage] = [
            .user("first " + String(repeating: "x", count: 200)),
            ChatMessage(role: .assistant, content: [.toolUse(id: "c1", name: "bash", argumentsJSON: #"{"command":"ls"}"#)]),
            ChatMessage(role: .user, content: [.toolResult(id: "c1", content: String(repeating: "y", count: 300), isError: false)]),
            .assistant("one file"),
            .user("second"),
            ChatMessage(role: .assistant, content: [.toolUse(id: "c2", name: "bash", argumentsJSON: #"{"command":"cat a"}"#)]),
            ChatMessage(role: .user, content: [.toolResult(id: "c2", content: String(repeating: "z", count: 300), isError: false)]),
            .assistant("it says z"),
            .user("third"),
            .assistant("done"),
        ]
        let texts = try messages.map(Self.encoded)
        for text in texts { try store.appendHistory("s", text) }
        let bytes = texts.map(\.utf8.count)

        let all = try AgentLoopTurnDriver.history(store, "s", budgetBytes: bytes.reduce(0, +))
        #expect(all.messages == messages && all.omitted == 0)
        // The newest four fit; they start at turn two's tool result, so what is sent starts at the
        // next message that opens a turn: no tool result without its call.
        let four = try AgentLoopTurnDriver.history(store, "s", budgetBytes: bytes.suffix(4).reduce(0, +))
        #expect(four.messages == Array(messages.suffix(2)))
        #expect(four.omitted == 8)
        let five = try AgentLoopTurnDriver.history(store, "s", budgetBytes: bytes.suffix(6).reduce(0, +))
        #expect(five.messages == Array(messages.suffix(6)) && five.messages.first == ChatMessage.user("second"))
        let none = try AgentLoopTurnDriver.history(store, "s", budgetBytes: bytes.last! - 1)
        #expect(none.messages.isEmpty && none.omitted == messages.count)
        // Only what is sent is trimmed.
        #expect(try store.history("s") == texts)
    }

    @Test func laterTurnsGetAHistoryTrimmedToTheBudgetAndTheTranscriptKeepsEverything() async throws {
        let log = HistoryLog()
        let reply = String(repeating: "a", count: 300)
        let agents = try await AgentServer.start { options in
            options.driver = nil
            options.loop = { _, _, _, _ in RecordingLoop(log: log, reply: reply) }
            options.historyBudgetBytes = 1000
        }
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        for turn in 1...5 {
            let sent = try await agents.client.sendAgentMessage(session.id, text: "turn \(turn)")
            let events = try await agents.events(session.id, after: sent.seq) { $0.isTurnEnd }
            #expect(events.last?.fields["outcome"] as? String == "completed")
        }
        let stored = try agents.server.service.agentSessions.store.history(session.id)
        #expect(stored.count == 10, "the stored history keeps every message")
        let histories = log.histories.withLock { $0 }
        #expect(histories.count == 5)
        // Compared decoded: the JSON's key order is not fixed, the stored bytes are what count.
        let storedMessages = try stored.map { try JSONDecoder().decode(ChatMessage.self, from: Data($0.utf8)) }
        for (turn, history) in histories.enumerated() {
            // Each is the newest part of what was stored before the turn, within the budget, and
            // starts with a turn's prompt.
            let before = Array(storedMessages.prefix(turn * 2))
            #expect(history == Array(before.suffix(history.count)), "turn \(turn + 1)")
            #expect(stored.prefix(turn * 2).suffix(history.count).reduce(0) { $0 + $1.utf8.count } <= 1000)
            if let first = history.first { #expect(first.role == .user && first.text.hasPrefix("turn ")) }
        }
        #expect(histories[4].count < 8, "the oldest turns were left out")
        #expect(!histories[4].isEmpty)
        let users = try await agents.client.agentTranscript(session.id).events.filter { $0.type == "message" && $0.fields["role"] as? String == "user" }
        #expect(users.count == 5, "the event log is untouched")
    }
}
