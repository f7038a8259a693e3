/// Who wrote a message of a conversation. The system prompt is not a message: it travels in
/// `ProviderRequest.system`, because Anthropic takes it top-level and OpenAI as a first message.
public enum ChatRole: String, Sendable, Codable, Hashable {
    case user
    case assistant
}

/// One block of a message, in the shape both wire formats can express. Tool results are blocks of a
/// user message (Anthropic's shape); the OpenAI adapter turns each into a `role: tool` message.
public enum ContentBlock: Sendable, Equatable, Hashable {
    case text(String)
    /// Reasoning the provider showed. `signature` goes back unchanged with the history, because
    /// Anthropic refuses a tool-use turn whose thinking lost its signature.
    case thinking(text: String, signature: String?)
    /// A call the model made. `argumentsJSON` is the JSON object text exactly as assembled from the
    /// stream (it may be invalid JSON: the model wrote it).
    case toolUse(id: String, name: String, argumentsJSON: String)
    case toolResult(id: String, content: String, isError: Bool)
}

public struct ChatMessage: Sendable, Equatable, Hashable, Codable {
    public var role: ChatRole
    public var content: [ContentBlock]

    public init(role: ChatRole, content: [ContentBlock]) {
        self.role = role
        self.content = content
    }

    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, content: [.text(text)]) }
    public static func assistant(_ text: String) -> ChatMessage { ChatMessage(role: .assistant, content: [.text(text)]) }

    /// The text blocks joined, for display and transcripts.
    public var text: String {
        content.compactMap { if case .text(let t) = $0 { t } else { nil } }.joined()
    }

    /// The tool calls this (assistant) message makes, in order.
    public var toolCalls: [ToolCall] {
        content.compactMap {
            if case .toolUse(let id, let name, let args) = $0 { ToolCall(id: id, name: name, argumentsJSON: args) } else { nil }
        }
    }
}
