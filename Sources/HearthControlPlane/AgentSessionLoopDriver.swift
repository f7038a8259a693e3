public import HearthAgentCore
import Foundation
import GRDB
import HearthCore
import Logging

/// One turn of the agent loop (HearthAgents' `AgentLoop`, wrapped by the composition root with the
/// session's provider client and scrubber).
public protocol AgentTurnLoop: Sendable {
    func runTurn(history: [ChatMessage], prompt: String, usage: TokenUsage,
                 emit: @escaping @Sendable (AgentLoopEvent) async -> Void) async -> (outcome: TurnOutcome, usage: TokenUsage)
}

/// Makes the loop of one turn: the provider record and its key (opened on the host, in memory,
/// for this turn only), and the workspace tools.
public typealias AgentTurnLoopFactory = @Sendable (AgentSessionRecord, AgentProviderRecord, String, any ToolRunner) throws -> any AgentTurnLoop

/// The production driver: rebuilds the provider-facing history from the store, runs the loop with
/// the workspace's tools, and writes each loop event as a stored event (deltas batched), each
/// appended message to the history, each step and scrub to the audit log.
public struct AgentLoopTurnDriver: AgentTurnDriver {
    let environment: AgentTurnEnvironment
    let makeLoop: AgentTurnLoopFactory
    /// At most this many bytes of stored history (message JSON) go to the provider each turn.
    let historyBudgetBytes: Int

    /// Enough for a long session within the context windows of today's models (about 4 bytes a
    /// token); a provider that takes less answers with its own error.
    public static let defaultHistoryBudgetBytes = 512 * 1024

    public init(environment: AgentTurnEnvironment, makeLoop: @escaping AgentTurnLoopFactory,
                historyBudgetBytes: Int = AgentLoopTurnDriver.defaultHistoryBudgetBytes) {
        self.environment = environment
        self.makeLoop = makeLoop
        self.historyBudgetBytes = max(0, historyBudgetBytes)
    }

    public func runTurn(_ session: AgentSessionRecord, events: AgentEventHub) async throws -> AgentTurnOutcome {
        let store = environment.store
        guard let provider = try store.provider(tenantId: session.tenantId, name: session.provider) else {
            throw HearthError(.notFound, "the session's provider \(session.provider) no longer exists")
        }
        let key = try Self.key(for: session, provider, environment: environment)
        let tools = AgentWorkspaceTools(workspaces: environment.workspaces, workspaceId: session.workspaceId)
        let loop = try makeLoop(session, provider, key, tools)
        let (history, omitted) = try Self.history(store, session.id, budgetBytes: historyBudgetBytes)
        if omitted > 0 {
            environment.logger.info("agent history trimmed to its budget", metadata: ["agent.session": "\(session.id)", "agent.history.sent": "\(history.count)",
                                                                                      "agent.history.omitted": "\(omitted)"])
        }
        let prompt = try Self.lastUserText(store, session.id)
        let id = session.id
        let environment = self.environment
        let checkpoints = AgentCheckpointer(workspaces: environment.workspaces, events: events, logger: environment.logger)
        let turn = AgentCheckpointer.Turn()
        let (outcome, usage) = await loop.runTurn(history: history, prompt: prompt, usage: TokenUsage(input: session.tokensUsed)) { event in
            do {
                try Self.record(event, session: session, events: events, environment: environment)
            } catch {
                environment.logger.error("agent event not stored", metadata: ["agent.session": "\(id)", "error": "\(error)"])
            }
            await checkpoints.after(event, session: session, turn: turn)
        }
        try store.update(id) { $0.tokensUsed = usage.total }
        switch outcome {
        case .completed: return .completed
        case .cancelled: return .cancelled
        case .failed: return .failed
        case .budgetExceeded: return .budgetExceeded
        case .stepLimit: return .stepLimit
        case .loopDetected: return .loopDetected
        }
    }

    /// The key a turn spends: the own key of the member who sent its message when they set one for
    /// this provider, the tenant's otherwise. A member's key goes only to the address it was set
    /// for; after an admin moves the record, the turn fails until the member sets it again.
    static func key(for session: AgentSessionRecord, _ provider: AgentProviderRecord, environment: AgentTurnEnvironment) throws -> String {
        let sender = session.turnUserId ?? session.userId
        guard let own = try environment.store.userKey(tenantId: session.tenantId, userId: sender, provider: provider.name) else {
            return try environment.keys.unseal(provider.sealedKey, tenantId: session.tenantId)
        }
        guard own.baseURL == provider.baseURL else {
            throw HearthError(.conflict, "the key for this turn was set for another address of \(provider.name); the provider record has moved since, so it is not sent")
        }
        return try environment.keys.unseal(own.sealedKey, tenantId: session.tenantId, userId: sender)
    }

    /// The provider-facing history of a turn: the newest stored messages within `budgetBytes`.
    /// When older ones are left out, what is sent starts at a user message that opened a turn, so
    /// no tool result is sent without the call it answers and the conversation still starts with
    /// the user (as Anthropic requires). Only what is sent is trimmed: the stored history and the
    /// event log keep everything. `omitted` counts the stored messages not sent.
    public static func history(_ store: AgentSessionStore, _ id: String, budgetBytes: Int) throws -> (messages: [ChatMessage], omitted: Int) {
        let (texts, omitted) = try store.recentHistory(id, budgetBytes: budgetBytes)
        let decoder = JSONDecoder()
        let messages = texts.compactMap { try? decoder.decode(ChatMessage.self, from: Data($0.utf8)) }
        guard omitted > 0 else { return (messages, 0) }
        let start = messages.firstIndex(where: Self.opensTurn) ?? messages.endIndex
        return (Array(messages[start...]), omitted &+ start)
    }

    /// A user message with text and no tool results: the prompt that began a turn.
    static func opensTurn(_ message: ChatMessage) -> Bool {
        guard message.role == .user else { return false }
        return !message.content.contains { if case .toolResult = $0 { true } else { false } }
    }

    static func lastUserText(_ store: AgentSessionStore, _ id: String) throws -> String {
        let last = try store.db.read { db in
            try String.fetchOne(db, sql: """
                SELECT data FROM agentEvent WHERE sessionId = ? AND type = 'message' AND data LIKE '%"role":"user"%' ORDER BY seq DESC LIMIT 1
                """, arguments: [id])
        }
        let fields = AgentSessionManager.fields(last ?? "{}")
        return fields["text"] as? String ?? ""
    }

    static func record(_ event: AgentLoopEvent, session: AgentSessionRecord, events: AgentEventHub, environment: AgentTurnEnvironment) throws {
        let id = session.id
        switch event {
        case .textDelta(let text):
            try events.appendDelta(id, .message, text)
        case .thinkingDelta(let text):
            try events.appendDelta(id, .thinking, text)
        case .thinking(_, let signature):
            try events.endDelta(id)
            if let signature { try events.append(id, .thinking, ["role": .string("assistant"), "text": .string(""), "partial": .bool(false), "signature": .string(signature)]) }
        case .message(let message):
            // The client already has the text as deltas (and the user's message as sent); the
            // scrubbed message is what later turns send the provider.
            if message.role == .assistant { try events.endDelta(id) }
            let data = try JSONEncoder().encode(message)
            try environment.store.appendHistory(id, String(decoding: data, as: UTF8.self))
        case .toolCall(let call):
            try events.append(id, .toolCall, ["id": .string(call.id), "name": .string(call.name), "arguments": .string(call.argumentsJSON)])
        case .toolResult(let callID, let name, let outcome, let milliseconds):
            var fields: [String: AgentJSON] = ["id": .string(callID), "name": .string(name), "content": .string(outcome.content),
                                               "is_error": .bool(outcome.isError), "truncated": .bool(outcome.truncated), "duration_ms": .int(milliseconds)]
            if let code = outcome.exitCode { fields["exit_code"] = .int(Int(code)) }
            try events.append(id, .toolResult, fields)
            // The name is the model's: the audit log, which outlives any purge, gets only a known one.
            environment.audit(session, "agent_session.tool", AgentWorkspaceTools.knownName(name), outcome.isError ? "error" : "ok")
        case .usage(let step, let total):
            try events.append(id, .usage, ["input_tokens": .int(step.input), "output_tokens": .int(step.output),
                                           "total_input_tokens": .int(total.input), "total_output_tokens": .int(total.output)])
        case .status(let status):
            try events.append(id, .status, ["status": .string(status)])
        case .scrub(let rule, let target, let count):
            try events.append(id, .scrub, ["rule": .string(rule), "target": .string(target.rawValue), "count": .int(count)])
            environment.audit(session, "agent_session.scrub", rule, target.rawValue)
        case .error(let failure):
            try events.append(id, .errorEvent, ["code": .string(failure.eventCode), "message": .string(failure.message)])
        case .finished(let outcome, let steps):
            try events.endDelta(id)
            try events.append(id, .status, ["status": .string("finished"), "outcome": .string(outcome.rawValue), "steps": .int(steps)])
        }
    }
}
