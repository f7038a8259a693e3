/// The error every Hearth layer reports. `message` is for the client; `detail` is for logs only
/// and may name host paths, commands and exit codes that a tenant must not see.
public struct HearthError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, Codable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let invalidArgument = Code(rawValue: "invalid_argument")
        public static let notFound = Code(rawValue: "not_found")
        public static let conflict = Code(rawValue: "conflict")
        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let forbidden = Code(rawValue: "forbidden")
        public static let runtimeUnavailable = Code(rawValue: "runtime_unavailable")
        public static let runtimeFailed = Code(rawValue: "runtime_failed")
        public static let agentUnavailable = Code(rawValue: "agent_unavailable")
        public static let agentProtocol = Code(rawValue: "agent_protocol_violation")
        public static let noSpace = Code(rawValue: "no_space")
        public static let timeout = Code(rawValue: "timeout")
        public static let payloadTooLarge = Code(rawValue: "payload_too_large")
        public static let rateLimited = Code(rawValue: "rate_limited")
        public static let quotaExceeded = Code(rawValue: "quota_exceeded")
        /// A tenant has as many agent turns running as it may (429, with Retry-After).
        public static let tooManyRunningTurns = Code(rawValue: "too_many_running_turns")
        /// The server keeps no durable store, or cannot reach it (503).
        public static let storeUnavailable = Code(rawValue: "store_unavailable")
        public static let `internal` = Code(rawValue: "internal")
    }

    public var code: Code
    public var message: String
    public var detail: String?

    public init(_ code: Code, _ message: String, detail: String? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    public var description: String {
        detail.map { "\(code.rawValue): \(message) (\($0))" } ?? "\(code.rawValue): \(message)"
    }
}
