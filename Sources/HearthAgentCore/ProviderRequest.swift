/// One request to a chat provider, independent of its wire format.
public struct ProviderRequest: Sendable, Equatable {
    public var model: String
    public var system: String?
    public var messages: [ChatMessage]
    public var tools: [ToolSpec]
    public var toolChoice: ToolChoice
    public var maxTokens: Int?
    public var temperature: Double?
    /// A JSON object whose members are merged into the request body unchanged (`logit_bias`,
    /// `parallel_tool_calls`, reasoning settings, OpenRouter routing…). Members the adapter sets itself
    /// (`model`, `messages`, `stream`…) are overridden by these: the caller asked for them. The
    /// provider rejects text that is not a JSON object before sending anything.
    public var extraFieldsJSON: String?

    public init(model: String, system: String? = nil, messages: [ChatMessage], tools: [ToolSpec] = [],
                toolChoice: ToolChoice = .auto, maxTokens: Int? = nil, temperature: Double? = nil,
                extraFieldsJSON: String? = nil) {
        self.model = model
        self.system = system
        self.messages = messages
        self.tools = tools
        self.toolChoice = toolChoice
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.extraFieldsJSON = extraFieldsJSON
    }
}
