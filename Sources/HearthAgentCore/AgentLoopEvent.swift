/// What an agent turn reports, in order, for the session to store and stream. Every `message` is a
/// message appended to the conversation, already scrubbed: concatenating a session's `message`
/// events gives exactly the history to send with the next turn. The other events are for display and
/// audit; `textDelta`/`thinkingDelta` are ephemeral (batch them, do not store them one by one).
public enum AgentLoopEvent: Sendable, Equatable {
    /// Appended to the conversation: the user's prompt (scrubbed), each complete assistant message
    /// (text, thinking with signature, tool calls), and each user message carrying tool results.
    case message(ChatMessage)
    case textDelta(String)
    case thinkingDelta(String)
    /// A complete thinking block (also inside the following `message`).
    case thinking(text: String, signature: String?)
    case toolCall(ToolCall)
    case toolResult(callID: String, name: String, outcome: ToolOutcome, durationMilliseconds: Int)
    /// After each provider call: that call's tokens and the session total so far.
    case usage(step: TokenUsage, total: TokenUsage)
    /// A lifecycle note (`provider_call`, `budget_final_step`, `loop_detected`…).
    case status(String)
    /// The scrubber replaced `count` values matched by `rule` in `target`. Never the value.
    case scrub(rule: String, target: ScrubTarget, count: Int)
    /// The provider failed; the turn ends with `.failed` next.
    case error(ProviderFailure)
    /// Always the last event of a turn.
    case finished(TurnOutcome, steps: Int)
}

public enum ScrubTarget: String, Sendable, Equatable, Hashable, Codable {
    case prompt
    case toolInput = "tool_input"
    case toolOutput = "tool_output"
}

/// How a turn ended. `completed` is the only success.
public enum TurnOutcome: String, Sendable, Equatable, Hashable, Codable {
    case completed
    case cancelled
    /// A provider error ended it (see the preceding `error` event).
    case failed = "error"
    /// The token or cost budget ran out; a final step without tools answered.
    case budgetExceeded = "budget_exceeded"
    /// The step budget of the turn ran out; a final step without tools answered.
    case stepLimit = "step_limit"
    /// The model made the same call `maxIdenticalCalls` times in a row.
    case loopDetected = "loop_detected"
}

/// Token counts, non-negative, saturating (a provider's numbers are hostile input).
public struct TokenUsage: Sendable, Equatable, Hashable, Codable {
    public var input: Int
    public var output: Int

    public init(input: Int = 0, output: Int = 0) {
        self.input = max(0, input)
        self.output = max(0, output)
    }

    public var total: Int { Self.saturatingAdd(input, output) }

    public static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        TokenUsage(input: saturatingAdd(a.input, b.input), output: saturatingAdd(a.output, b.output))
    }

    static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }
}

/// Guards of a session's turns.
public struct AgentBudget: Sendable, Equatable, Hashable, Codable {
    /// Provider calls per turn before the final step without tools.
    public var maxStepsPerTurn: Int
    /// The same call (name and arguments) this many times in a row ends the turn.
    public var maxIdenticalCalls: Int
    /// Session total (input + output) past which the next provider call is the final one without tools.
    public var maxTotalTokens: Int?
    /// Session cost cap in micro-dollars, priced with the two rates below.
    public var maxCostMicroUSD: Int?
    public var inputMicroUSDPerMillionTokens: Int
    public var outputMicroUSDPerMillionTokens: Int

    public init(maxStepsPerTurn: Int = 50, maxIdenticalCalls: Int = 3, maxTotalTokens: Int? = nil,
                maxCostMicroUSD: Int? = nil, inputMicroUSDPerMillionTokens: Int = 0, outputMicroUSDPerMillionTokens: Int = 0) {
        self.maxStepsPerTurn = max(1, maxStepsPerTurn)
        self.maxIdenticalCalls = max(2, maxIdenticalCalls)
        self.maxTotalTokens = maxTotalTokens
        self.maxCostMicroUSD = maxCostMicroUSD
        self.inputMicroUSDPerMillionTokens = max(0, inputMicroUSDPerMillionTokens)
        self.outputMicroUSDPerMillionTokens = max(0, outputMicroUSDPerMillionTokens)
    }

    /// The cost of `usage` in micro-dollars, saturating.
    public func costMicroUSD(_ usage: TokenUsage) -> Int {
        func price(_ tokens: Int, _ rate: Int) -> Int {
            let (product, overflow) = tokens.multipliedReportingOverflow(by: rate)
            return overflow ? Int.max : product / 1_000_000
        }
        return TokenUsage.saturatingAdd(price(usage.input, inputMicroUSDPerMillionTokens), price(usage.output, outputMicroUSDPerMillionTokens))
    }

    /// Whether a session that has used `usage` may make another call with tools.
    public func isExhausted(by usage: TokenUsage) -> Bool {
        if let cap = maxTotalTokens, usage.total >= cap { return true }
        if let cap = maxCostMicroUSD, costMicroUSD(usage) >= cap { return true }
        return false
    }
}
