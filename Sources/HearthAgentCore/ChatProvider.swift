/// A chat model behind its real wire format. Implementations: HearthProviders' OpenAI Chat
/// Completions and Anthropic Messages clients.
public protocol ChatProvider: Sendable {
    /// Streams one model response. Throws `ProviderFailure` before the stream starts (HTTP status,
    /// transport) or from the stream (error frames, truncation). Cancelling the task that consumes
    /// the stream (or dropping the stream) closes the HTTP connection to the provider.
    func stream(_ request: ProviderRequest) async throws -> AsyncThrowingStream<ProviderEvent, any Error>
    /// The provider's model list (`GET /v1/models`), normalised.
    func models() async throws -> [ModelInfo]
}

/// Why a provider call failed. `message` is safe to show a client and store: it never holds the API
/// key, and holds at most a bounded prefix of what the provider said.
public struct ProviderFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable, Codable {
        /// The provider answered with a non-2xx status before streaming.
        case http
        /// The provider sent an error frame inside a 200 stream.
        case stream
        /// The stream ended without its final frame (`[DONE]`, `message_stop`).
        case truncated
        /// The provider sent something that is not its wire format (bad JSON, oversized line…).
        case malformed
        /// Connecting or reading failed.
        case transport
        /// The request could not be built (extra fields not a JSON object…); nothing was sent.
        case invalidRequest
    }

    public var kind: Kind
    public var message: String
    public var httpStatus: Int?
    /// Whether trying again later may help (429, 5xx, 529, overloaded).
    public var retryable: Bool

    public init(_ kind: Kind, _ message: String, httpStatus: Int? = nil, retryable: Bool = false) {
        self.kind = kind
        self.message = message
        self.httpStatus = httpStatus
        self.retryable = retryable
    }

    /// The `error_event` code the session stores.
    public var eventCode: String {
        switch kind {
        case .http: "provider_http"
        case .stream: "provider_stream"
        case .truncated: "stream_truncated"
        case .malformed: "provider_malformed"
        case .transport: "provider_transport"
        case .invalidRequest: "invalid_request"
        }
    }

    public var description: String {
        httpStatus.map { "\(kind.rawValue) (\($0)): \(message)" } ?? "\(kind.rawValue): \(message)"
    }
}
