public import HearthAgentCore

/// Builds one assistant message from a provider's events: text, thinking blocks closed by their
/// signature, tool calls by index with their argument fragments joined. Bounded: a response that
/// would make it hold more than its limits fails as malformed (the stream is then dropped).
struct ResponseAssembly {
    let maxText: Int
    let maxArguments: Int
    private var text: [String] = []
    private var textBytes = 0
    private(set) var thinking: [ContentBlock] = []
    private var openThinking: String?
    private var callOrder: [Int] = []
    private var callsByIndex: [Int: ToolCall] = [:]
    private(set) var usage = TokenUsage()
    /// Argument bytes of every call of this response together, and the calls' number: a hostile
    /// provider could otherwise send a thousand calls of a quarter MiB each in one response, all
    /// kept in the history and re-sent at every later step.
    private var argumentBytes = 0
    static let maxCalls = 32
    static let maxArgumentBytesPerResponse = 1 << 20
    private(set) var stop: StopReason?

    init(maxText: Int, maxArguments: Int) {
        self.maxText = maxText
        self.maxArguments = maxArguments
    }

    /// Takes one event; returns what to show live (deltas), if anything.
    mutating func take(_ event: ProviderEvent) throws -> AgentLoopEvent? {
        switch event {
        case .textDelta(let delta):
            closeThinking(signature: nil)
            textBytes &+= delta.utf8.count
            guard textBytes <= maxText else { throw ProviderFailure(.malformed, "the provider's answer is longer than \(maxText) bytes") }
            text.append(delta)
            return .textDelta(delta)
        case .thinkingDelta(let delta):
            textBytes &+= delta.utf8.count
            guard textBytes <= maxText else { throw ProviderFailure(.malformed, "the provider's answer is longer than \(maxText) bytes") }
            // In place: `(open ?? "") + delta` copied the whole text per delta, quadratic in its size.
            if openThinking == nil { openThinking = "" }
            openThinking?.append(delta)
            return .thinkingDelta(delta)
        case .thinkingSignature(let signature):
            closeThinking(signature: signature)
            return nil
        case .toolCallStarted(let index, let id, let name):
            closeThinking(signature: nil)
            if callsByIndex[index] == nil {
                guard callOrder.count < Self.maxCalls else {
                    throw ProviderFailure(.malformed, "the provider made more than \(Self.maxCalls) tool calls in one response")
                }
                callOrder.append(index)
            }
            callsByIndex[index] = ToolCall(id: id, name: name, argumentsJSON: "")
            return nil
        case .toolCallArgumentsDelta(let index, let fragment):
            // Taken out of the dictionary so the append does not copy the arguments so far.
            guard var call = callsByIndex.removeValue(forKey: index) else { throw ProviderFailure(.malformed, "the provider sent arguments for a call it did not start") }
            argumentBytes &+= fragment.utf8.count
            guard call.argumentsJSON.utf8.count &+ fragment.utf8.count <= maxArguments, argumentBytes <= Self.maxArgumentBytesPerResponse else {
                throw ProviderFailure(.malformed, "the provider's tool arguments are longer than \(min(maxArguments, Self.maxArgumentBytesPerResponse)) bytes")
            }
            call.argumentsJSON += fragment
            callsByIndex[index] = call
            return nil
        case .usage(let input, let output):
            usage = TokenUsage(input: input, output: output)
            return nil
        case .finished(let reason):
            closeThinking(signature: nil)
            stop = reason
            return nil
        }
    }

    private mutating func closeThinking(signature: String?) {
        guard let open = openThinking else { return }
        thinking.append(.thinking(text: open, signature: signature))
        openThinking = nil
    }

    var calls: [ToolCall] {
        callOrder.compactMap { callsByIndex[$0] }.map {
            ToolCall(id: $0.id, name: $0.name, argumentsJSON: $0.argumentsJSON.isEmpty ? "{}" : $0.argumentsJSON)
        }
    }

    /// The assistant message with the (scrubbed) calls the loop will run.
    mutating func message(calls: [ToolCall]) -> ChatMessage {
        closeThinking(signature: nil)
        var blocks = thinking
        let joined = text.joined()
        if !joined.isEmpty { blocks.append(.text(joined)) }
        blocks += calls.map { .toolUse(id: $0.id, name: $0.name, argumentsJSON: $0.argumentsJSON) }
        return ChatMessage(role: .assistant, content: blocks)
    }

    /// What had arrived when the stream stopped early: text and thinking only (a call without its
    /// result would make the history invalid), or nil when nothing had.
    mutating func partialMessage() -> ChatMessage? {
        let message = message(calls: [])
        return message.content.isEmpty ? nil : message
    }
}
