/// An error from the storage engine. `message` is what a user or client sees; `detail` is for logs only
/// (paths, object keys, underlying errno), so a caller can show one without leaking the other.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidArgument = Code(rawValue: "invalid_argument")
        public static let notFound = Code(rawValue: "not_found")
        /// A conditional write lost: the object exists, or changed since it was read.
        public static let conflict = Code(rawValue: "conflict")
        /// This writer's lease epoch is no longer the newest. It must stop writing.
        public static let fenced = Code(rawValue: "fenced")
        /// The lease is held by another live writer.
        public static let leaseHeld = Code(rawValue: "lease_held")
        /// Stored data failed authentication, a hash check or a structural check.
        public static let damaged = Code(rawValue: "damaged")
        public static let noKey = Code(rawValue: "no_key")
        public static let wrongKey = Code(rawValue: "wrong_key")
        public static let unreadable = Code(rawValue: "unreadable")
        public static let noSpace = Code(rawValue: "no_space")
        /// The store could not be reached or kept failing after retries.
        public static let unavailable = Code(rawValue: "unavailable")
        public static let io = Code(rawValue: "io")
        /// A commit's `CommitLimits` were passed.
        public static let limitExceeded = Code(rawValue: "limit_exceeded")
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
        detail.map { "\(code): \(message) (\($0))" } ?? "\(code): \(message)"
    }
}
