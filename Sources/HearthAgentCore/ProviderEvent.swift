/// What a provider's stream yields, in order. A stream that ends without `finished` is an error the
/// provider throws (`ProviderFailure.Kind.truncated`), never a silent end.
public enum ProviderEvent: Sendable, Equatable {
    case textDelta(String)
    case thinkingDelta(String)
    /// The signature of the thinking block streamed so far (Anthropic); goes back with the history.
    case thinkingSignature(String)
    /// A tool call begins. `index` identifies it for the argument fragments that follow.
    case toolCallStarted(index: Int, id: String, name: String)
    case toolCallArgumentsDelta(index: Int, fragment: String)
    /// Token counts as the provider reported them, cumulative for this request.
    case usage(input: Int, output: Int)
    case finished(StopReason)
}

public enum StopReason: Sendable, Equatable, Hashable, Codable {
    case endTurn
    case toolUse
    case maxTokens
    case stopSequence
    case contentFilter
    case refusal
    /// Anything else the provider said, kept verbatim.
    case other(String)

    /// Maps both wire formats' names (`stop`/`end_turn`, `tool_calls`/`tool_use`, `length`/`max_tokens`…).
    public init(wireName: String) {
        switch wireName {
        case "stop", "end_turn": self = .endTurn
        case "tool_calls", "tool_use", "function_call": self = .toolUse
        case "length", "max_tokens": self = .maxTokens
        case "stop_sequence": self = .stopSequence
        case "content_filter": self = .contentFilter
        case "refusal": self = .refusal
        default: self = .other(wireName)
        }
    }
}

/// A model a provider lists, normalised from its own shape (OpenAI `data[].id/owned_by/created`,
/// Anthropic `data[].id/display_name/created_at`).
public struct ModelInfo: Sendable, Equatable, Hashable, Codable {
    public var id: String
    public var displayName: String?
    public var ownedBy: String?
    /// As the provider wrote it (Unix seconds for OpenAI, RFC 3339 for Anthropic).
    public var created: String?
    public var contextLength: Int?

    public init(id: String, displayName: String? = nil, ownedBy: String? = nil, created: String? = nil, contextLength: Int? = nil) {
        self.id = id
        self.displayName = displayName
        self.ownedBy = ownedBy
        self.created = created
        self.contextLength = contextLength
    }
}
