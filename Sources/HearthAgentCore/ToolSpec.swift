/// A tool offered to the model.
public struct ToolSpec: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var description: String
    /// The JSON Schema of the arguments object, as raw JSON text, sent on unchanged
    /// (`parameters` for OpenAI, `input_schema` for Anthropic).
    public var parametersSchemaJSON: String

    public init(name: String, description: String, parametersSchemaJSON: String) {
        self.name = name
        self.description = description
        self.parametersSchemaJSON = parametersSchemaJSON
    }
}

/// Whether and which tool the model must call. Maps to OpenAI's `"auto" | "required" | "none" |
/// {"type":"function",…}` and Anthropic's `{"type":"auto"|"any"|"none"|"tool"}`.
public enum ToolChoice: Sendable, Equatable, Hashable, Codable {
    case auto
    case required
    case none
    case named(String)
}

/// One call the model asked for, assembled from the stream.
public struct ToolCall: Sendable, Equatable, Hashable, Codable {
    /// The provider's call id, echoed back in the result so the provider can pair them.
    public var id: String
    public var name: String
    /// As the model wrote it; may be invalid JSON.
    public var argumentsJSON: String

    public init(id: String, name: String, argumentsJSON: String) {
        self.id = id
        self.name = name
        self.argumentsJSON = argumentsJSON
    }
}

/// What running a tool gave. `content` goes back to the model (after scrubbing).
public struct ToolOutcome: Sendable, Equatable, Hashable, Codable {
    public var content: String
    public var isError: Bool
    /// A process exit status, when the tool ran one.
    public var exitCode: Int32?
    /// The output was cut (head and tail kept) to a stated size.
    public var truncated: Bool

    public init(content: String, isError: Bool = false, exitCode: Int32? = nil, truncated: Bool = false) {
        self.content = content
        self.isError = isError
        self.exitCode = exitCode
        self.truncated = truncated
    }
}

/// Runs the model's tool calls, inside a workspace in production. Never throws: a failure is a
/// `ToolOutcome` with `isError`, which the model sees. Must return promptly when the calling task is
/// cancelled (kill the process group, then return an error outcome).
public protocol ToolRunner: Sendable {
    /// The tools this runner offers, sent to the provider.
    var tools: [ToolSpec] { get }
    func run(_ call: ToolCall) async -> ToolOutcome
}
