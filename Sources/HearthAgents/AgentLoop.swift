public import HearthAgentCore
public import HearthScrub
public import Logging
import Foundation

/// How a session's turns call the model.
public struct AgentLoopConfiguration: Sendable {
    public var model: String
    public var system: String?
    public var budget: AgentBudget
    /// `auto` in production; tests force calls with `required`.
    public var toolChoice: ToolChoice
    /// How the final step (budget or steps spent) keeps the model from calling tools.
    public var finalStep: FinalStepPolicy
    public var maxTokens: Int?
    public var temperature: Double?
    /// Passed through unchanged in every request (the session's extra fields).
    public var extraFieldsJSON: String?
    /// A tool output longer than this reaches the model cut head-and-tail (the runner cuts first;
    /// this bounds what any runner can make the loop hold and send).
    public var maxToolOutputBytes: Int
    /// Bounds on what one provider response may make the loop hold.
    public var maxResponseTextBytes: Int
    public var maxToolArgumentsBytes: Int

    public init(model: String, system: String? = nil, budget: AgentBudget = AgentBudget(), toolChoice: ToolChoice = .auto,
                finalStep: FinalStepPolicy = .toolChoiceNone, maxTokens: Int? = nil, temperature: Double? = nil,
                extraFieldsJSON: String? = nil, maxToolOutputBytes: Int = 64 << 10, maxResponseTextBytes: Int = 1 << 20, maxToolArgumentsBytes: Int = 256 << 10) {
        self.model = model
        self.system = system
        self.budget = budget
        self.toolChoice = toolChoice
        self.finalStep = finalStep
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.extraFieldsJSON = extraFieldsJSON
        self.maxToolOutputBytes = maxToolOutputBytes
        self.maxResponseTextBytes = maxResponseTextBytes
        self.maxToolArgumentsBytes = maxToolArgumentsBytes
    }
}

/// The final step's request: the tools stay offered with `tool_choice: none` (what Anthropic needs
/// when the history holds tool blocks), or no tools are offered at all (what a server that cannot
/// honour `none` needs, such as llama-server under a tool-forcing logit bias).
public enum FinalStepPolicy: Sendable, Equatable {
    case toolChoiceNone
    case withoutTools
}

/// What a turn did, besides the events it emitted.
public struct AgentTurnResult: Sendable, Equatable {
    public var outcome: TurnOutcome
    /// Provider calls made.
    public var steps: Int
    /// The session's usage after the turn.
    public var usage: TokenUsage
    /// The messages the turn appended (the same as its `message` events).
    public var appended: [ChatMessage]
}

/// One agent turn on the host: provider calls and tool runs, with the guards (steps per turn, three
/// identical calls in a row, token and cost budget before each provider call, a final step without
/// tools when a budget runs out) and the scrubber on everything sent to the provider. Emits typed
/// events in order; the last one is always `finished`. Cancelling the calling task cancels the turn:
/// the provider stream is dropped (its connection closes) and the running tool is asked to stop.
public struct AgentLoop: Sendable {
    public let provider: any ChatProvider
    public let tools: any ToolRunner
    public let configuration: AgentLoopConfiguration
    let logger: Logger

    public init(provider: any ChatProvider, tools: any ToolRunner, configuration: AgentLoopConfiguration,
                logger: Logger = Logger(label: "hearth.agents")) {
        self.provider = provider
        self.tools = tools
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs one turn for `prompt` after `history` (the session's stored `message` events), starting
    /// from the session's `usage`. `scrubber` keeps its markers across the session's turns.
    public func runTurn(history: [ChatMessage], prompt: String, usage: TokenUsage, scrubber: inout ScrubSession,
                        emit: @Sendable (AgentLoopEvent) async -> Void) async -> AgentTurnResult {
        var turn = TurnState(history: history, usage: usage)
        logger.info("agent.turn.started", metadata: ["agent.model": "\(configuration.model)", "agent.history": "\(history.count)"])
        let system = configuration.system.map { scrub($0, .prompt, &scrubber) }
        for event in system?.events ?? [] { await emit(event) }
        let user = scrub(prompt, .prompt, &scrubber)
        for event in user.events { await emit(event) }
        await turn.append(.user(user.text), emit)

        var finalStep: TurnOutcome?
        while true {
            if Task.isCancelled { return await finish(.cancelled, &turn, emit) }
            if finalStep == nil {
                if configuration.budget.isExhausted(by: turn.usage) {
                    finalStep = .budgetExceeded
                } else if turn.steps >= configuration.budget.maxStepsPerTurn {
                    finalStep = .stepLimit
                }
                if let finalStep {
                    logger.notice("agent.turn.final_step", metadata: ["agent.reason": "\(finalStep.rawValue)", "agent.steps": "\(turn.steps)"])
                    await emit(.status("final_step:\(finalStep.rawValue)"))
                }
            }
            turn.steps += 1
            let offered = finalStep != nil && configuration.finalStep == .withoutTools ? [] : tools.tools
            let request = ProviderRequest(model: configuration.model, system: system?.text, messages: turn.messages,
                                          tools: offered, toolChoice: finalStep == nil ? configuration.toolChoice : .none,
                                          maxTokens: configuration.maxTokens, temperature: configuration.temperature,
                                          extraFieldsJSON: configuration.extraFieldsJSON)
            var response = ResponseAssembly(maxText: configuration.maxResponseTextBytes, maxArguments: configuration.maxToolArgumentsBytes)
            do {
                for try await event in try await provider.stream(request) {
                    if let shown = try response.take(event) { await emit(shown) }
                }
            } catch {
                if Task.isCancelled || error is CancellationError {
                    if let partial = response.partialMessage() { await turn.append(partial, emit) }
                    return await finish(.cancelled, &turn, emit)
                }
                let failure = error as? ProviderFailure ?? ProviderFailure(.transport, "the provider call failed")
                logger.warning("agent.provider.failed", metadata: ["agent.error": "\(failure)"])
                if let partial = response.partialMessage() { await turn.append(partial, emit) }
                await emit(.error(failure))
                return await finish(.failed, &turn, emit)
            }
            turn.usage = turn.usage + response.usage
            await emit(.usage(step: response.usage, total: turn.usage))
            for block in response.thinking { if case .thinking(let text, let signature) = block { await emit(.thinking(text: text, signature: signature)) } }

            // Tool inputs are scrubbed before they are stored or sent back.
            var calls: [ToolCall] = []
            if finalStep == nil {
                for call in response.calls {
                    let arguments = scrub(call.argumentsJSON, .toolInput, &scrubber)
                    for event in arguments.events { await emit(event) }
                    calls.append(ToolCall(id: call.id, name: call.name, argumentsJSON: arguments.text))
                }
            }
            await turn.append(response.message(calls: calls), emit)
            if let finalStep { return await finish(finalStep, &turn, emit) }
            if calls.isEmpty { return await finish(.completed, &turn, emit) }

            var results: [ContentBlock] = []
            var ended: TurnOutcome?
            for call in calls {
                await emit(.toolCall(call))
                if ended != nil || Task.isCancelled {
                    ended = ended ?? .cancelled
                    results.append(.toolResult(id: call.id, content: "not run: the turn ended", isError: true))
                    continue
                }
                if turn.repeats(call) >= configuration.budget.maxIdenticalCalls {
                    logger.notice("agent.turn.loop_detected", metadata: ["agent.tool": "\(call.name)", "agent.repeats": "\(configuration.budget.maxIdenticalCalls)"])
                    await emit(.status("loop_detected"))
                    let outcome = ToolOutcome(content: "not run: the same call was made \(configuration.budget.maxIdenticalCalls) times in a row", isError: true)
                    await emit(.toolResult(callID: call.id, name: call.name, outcome: outcome, durationMilliseconds: 0))
                    results.append(.toolResult(id: call.id, content: outcome.content, isError: true))
                    ended = .loopDetected
                    continue
                }
                let started = ContinuousClock.now
                var outcome = await tools.run(call)
                let elapsed = ContinuousClock.now - started
                outcome = Self.truncated(outcome, to: configuration.maxToolOutputBytes)
                let output = scrub(outcome.content, .toolOutput, &scrubber)
                for event in output.events { await emit(event) }
                outcome.content = output.text
                await emit(.toolResult(callID: call.id, name: call.name, outcome: outcome,
                                       durationMilliseconds: Int(elapsed.components.seconds) &* 1000 &+ Int(elapsed.components.attoseconds / 1_000_000_000_000_000)))
                results.append(.toolResult(id: call.id, content: outcome.content, isError: outcome.isError))
                if Task.isCancelled { ended = .cancelled }
            }
            await turn.append(ChatMessage(role: .user, content: results), emit)
            if let ended { return await finish(ended, &turn, emit) }
        }
    }

    private func finish(_ outcome: TurnOutcome, _ turn: inout TurnState, _ emit: @Sendable (AgentLoopEvent) async -> Void) async -> AgentTurnResult {
        logger.info("agent.turn.finished", metadata: ["agent.outcome": "\(outcome.rawValue)", "agent.steps": "\(turn.steps)",
                                                      "agent.tokens": "\(turn.usage.total)"])
        await emit(.finished(outcome, steps: turn.steps))
        return AgentTurnResult(outcome: outcome, steps: turn.steps, usage: turn.usage, appended: turn.appended)
    }

    private func scrub(_ text: String, _ target: ScrubTarget, _ scrubber: inout ScrubSession) -> (text: String, events: [AgentLoopEvent]) {
        let outcome = scrubber.scrub(text)
        guard !outcome.isClean else { return (text, []) }
        let events = outcome.hits.sorted { $0.key.rawValue < $1.key.rawValue }.map {
            AgentLoopEvent.scrub(rule: $0.key.rawValue, target: target, count: $0.value)
        }
        logger.notice("agent.scrub", metadata: ["agent.scrub.target": "\(target.rawValue)",
                                                "agent.scrub.rules": "\(outcome.hits.keys.map(\.rawValue).sorted().joined(separator: ","))"])
        return (outcome.text, events)
    }

    /// Head and tail kept, the middle replaced by a note of how much was cut; cut on UTF-8 boundaries.
    static func truncated(_ outcome: ToolOutcome, to limit: Int) -> ToolOutcome {
        let bytes = Array(outcome.content.utf8)
        guard bytes.count > limit, limit >= 64 else { return outcome }
        let half = limit / 2
        var head = half
        while head > 0, bytes[head] & 0xC0 == 0x80 { head -= 1 }
        var tail = bytes.count - half
        while tail < bytes.count, bytes[tail] & 0xC0 == 0x80 { tail += 1 }
        var cut = outcome
        cut.content = String(decoding: bytes[..<head], as: UTF8.self) + "\n[… \(tail - head) bytes truncated …]\n"
            + String(decoding: bytes[tail...], as: UTF8.self)
        cut.truncated = true
        return cut
    }
}

/// The conversation as the turn grows it, and the identical-call counter.
struct TurnState {
    var messages: [ChatMessage]
    var appended: [ChatMessage] = []
    var usage: TokenUsage
    var steps = 0
    private var lastCall: String?
    private var lastCallCount = 0

    init(history: [ChatMessage], usage: TokenUsage) {
        messages = history
        self.usage = usage
    }

    mutating func append(_ message: ChatMessage, _ emit: @Sendable (AgentLoopEvent) async -> Void) async {
        messages.append(message)
        appended.append(message)
        await emit(.message(message))
    }

    /// How many times in a row (this one included) this call was made: same name, same arguments
    /// up to key order and whitespace.
    mutating func repeats(_ call: ToolCall) -> Int {
        let key = call.name + "\u{0}" + Self.canonical(call.argumentsJSON)
        if key == lastCall { lastCallCount &+= 1 } else { lastCall = key; lastCallCount = 1 }
        return lastCallCount
    }

    static func canonical(_ json: String) -> String {
        guard let value = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
        else { return json }
        return String(decoding: data, as: UTF8.self)
    }
}
