public import HearthAgentCore
public import Foundation

/// A provider API key. Kept out of every description so that logging or interpolating an endpoint
/// cannot print it; only the request header builder reads `secret`.
public struct ProviderKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    let secret: String
    public init(_ secret: String) { self.secret = secret }
    public var description: String { "‹provider key›" }
    public var debugDescription: String { description }
}

/// Where and how to reach one provider.
public struct ProviderEndpoint: Sendable {
    /// OpenAI-style providers: the base including the version prefix, as their SDKs take it
    /// (`https://api.openai.com/v1`, `https://openrouter.ai/api/v1`, `http://127.0.0.1:8080/v1`).
    /// Anthropic: the host without `/v1` (`https://api.anthropic.com`), again as its SDK takes it.
    public var baseURL: String
    public var key: ProviderKey?
    /// Sent with every request (OpenRouter's `HTTP-Referer`, Anthropic's `anthropic-beta`…). Cannot
    /// replace the authentication headers.
    public var extraHeaders: [String: String]
    /// A JSON object merged into every request body before the request's own extra fields.
    public var extraFieldsJSON: String?
    public var retry: RetryPolicy
    /// The whole request, stream included, must end by then.
    public var requestTimeout: Duration

    public init(baseURL: String, key: ProviderKey?, extraHeaders: [String: String] = [:], extraFieldsJSON: String? = nil,
                retry: RetryPolicy = RetryPolicy(), requestTimeout: Duration = .seconds(600)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
        self.extraHeaders = extraHeaders
        self.extraFieldsJSON = extraFieldsJSON
        self.retry = retry
        self.requestTimeout = requestTimeout
    }

    /// Refuses anything but an absolute http(s) URL, so a tenant's configuration cannot name a file or
    /// another scheme. (Which hosts a tenant may reach is the caller's policy.)
    func validated() throws(ProviderFailure) -> ProviderEndpoint {
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil, url.query == nil, url.fragment == nil
        else { throw ProviderFailure(.invalidRequest, "the provider base URL must be an absolute http(s) URL") }
        return self
    }

    /// Replaces the key wherever a provider echoed it (an error message, say), before it is logged or stored.
    func redacting(_ text: String) -> String {
        guard let secret = key?.secret, secret.count >= 4 else { return text }
        // Also as an error's description prints it inside a collection: escaped (`\n` for a newline).
        let escaped = String(String(reflecting: secret).dropFirst().dropLast())
        return text.replacingOccurrences(of: secret, with: "‹provider key›").replacingOccurrences(of: escaped, with: "‹provider key›")
    }
}

/// When to try again. Retries happen only before the first byte of a response body has been
/// accepted: a stream that has started is never replayed, because the model's output would repeat.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, including the first.
    public var maxAttempts: Int
    /// Exponential backoff when the provider does not say how long to wait: base, 2×base, 4×base…
    public var baseDelay: Duration
    /// A `Retry-After` longer than this is not waited for: the failure is returned instead.
    public var maxDelay: Duration

    public init(maxAttempts: Int = 3, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(60)) {
        self.maxAttempts = max(1, min(maxAttempts, 10))
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    static func isRetryable(status: Int) -> Bool {
        [408, 409, 429, 500, 502, 503, 504, 529].contains(status)
    }

    func backoff(afterAttempt attempt: Int) -> Duration {
        baseDelay * (1 << min(max(attempt - 1, 0), 8))
    }
}

/// The clock retries wait on; tests inject one that records the waits and returns at once.
public protocol ProviderClock: Sendable {
    func now() -> Date
    func sleep(for duration: Duration) async throws
}

public struct SystemProviderClock: ProviderClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
