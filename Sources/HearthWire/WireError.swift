/// An error on the host/guest channel, or one the guest reports for an operation.
///
/// `code` is stable and machine-readable; `message` is safe to show a user.
public struct WireError: Error, Sendable, Codable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Codable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let malformedFrame = Code(rawValue: "malformed_frame")
        public static let frameTooLarge = Code(rawValue: "frame_too_large")
        public static let flowControlViolation = Code(rawValue: "flow_control_violation")
        public static let protocolViolation = Code(rawValue: "protocol_violation")
        public static let unsupportedVersion = Code(rawValue: "unsupported_version")
        public static let notFound = Code(rawValue: "not_found")
        public static let permissionDenied = Code(rawValue: "permission_denied")
        public static let alreadyExists = Code(rawValue: "already_exists")
        public static let notADirectory = Code(rawValue: "not_a_directory")
        public static let isADirectory = Code(rawValue: "is_a_directory")
        public static let noSpace = Code(rawValue: "no_space")
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        public static let connectionRefused = Code(rawValue: "connection_refused")
        public static let io = Code(rawValue: "io_error")
        public static let closed = Code(rawValue: "closed")
        public static let timeout = Code(rawValue: "timeout")
        /// A conditional write found the file changed since the time the host named (version 4).
        public static let changed = Code(rawValue: "changed")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
