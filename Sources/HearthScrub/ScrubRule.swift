import HearthCore

/// What fired: a built-in rule of the pack, or a tenant's own rule (`custom_<id>`). Only this id ever
/// leaves the scrubber in events, audit records and replacement markers, never the value it matched.
public struct ScrubRuleID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let awsAccessKey = ScrubRuleID(rawValue: "aws_access_key")
    public static let awsSecretKey = ScrubRuleID(rawValue: "aws_secret_key")
    public static let gcpAPIKey = ScrubRuleID(rawValue: "gcp_api_key")
    public static let gcpServiceAccount = ScrubRuleID(rawValue: "gcp_service_account")
    public static let githubToken = ScrubRuleID(rawValue: "github_token")
    public static let gitlabToken = ScrubRuleID(rawValue: "gitlab_token")
    public static let slackToken = ScrubRuleID(rawValue: "slack_token")
    public static let stripeKey = ScrubRuleID(rawValue: "stripe_key")
    public static let privateKey = ScrubRuleID(rawValue: "private_key")
    public static let jwt = ScrubRuleID(rawValue: "jwt")
    public static let email = ScrubRuleID(rawValue: "email")
    public static let iban = ScrubRuleID(rawValue: "iban")
    /// A high-entropy value assigned to a secret-like name, confirmed by the classifier (stage 2).
    public static let genericSecret = ScrubRuleID(rawValue: "generic_secret")
}

/// One span of the scanned bytes that must not leave: `start..<end` in UTF-8 offsets.
public struct ScrubFinding: Sendable, Equatable {
    public var start: Int
    public var end: Int
    public var rule: ScrubRuleID
}

/// A tenant's own rule: a literal prefix followed by a run of one alphabet, of a bounded length.
/// Deliberately not a regular expression: it matches in one bounded pass, so a tenant cannot make the
/// scrubber slow, and it is validated before use.
public struct TenantScrubRule: Sendable, Equatable, Codable {
    public enum Alphabet: String, Sendable, Codable {
        case alphanumeric, hex, digits, base64, base64url
        func contains(_ b: UInt8) -> Bool {
            switch self {
            case .alphanumeric: return ByteClass.isAlnum(b)
            case .hex: return ByteClass.isHex(b)
            case .digits: return ByteClass.isDigit(b)
            case .base64: return ByteClass.isAlnum(b) || b == 0x2B || b == 0x2F || b == 0x3D
            case .base64url: return ByteClass.isAlnum(b) || b == 0x2D || b == 0x5F
            }
        }
    }

    public static let maxRules = 32
    public let id: String
    public let prefix: [UInt8]
    public let alphabet: Alphabet
    public let minLength: Int
    public let maxLength: Int

    /// - Throws: `invalidArgument` unless the id is 1–32 of `[a-z0-9_]`, the prefix 3–32 printable
    ///   ASCII bytes, and `1 ≤ minLength ≤ maxLength ≤ 512`.
    public init(id: String, prefix: String, alphabet: Alphabet, minLength: Int, maxLength: Int) throws {
        let idBytes = Array(id.utf8)
        guard (1...32).contains(idBytes.count), idBytes.allSatisfy({ ByteClass.isLower($0) || ByteClass.isDigit($0) || $0 == 0x5F }) else {
            throw HearthError(.invalidArgument, "a scrub rule id is 1 to 32 of a-z, 0-9 and _")
        }
        let prefixBytes = Array(prefix.utf8)
        guard (3...32).contains(prefixBytes.count), prefixBytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw HearthError(.invalidArgument, "a scrub rule prefix is 3 to 32 printable ASCII characters")
        }
        guard minLength >= 1, minLength <= maxLength, maxLength <= 512 else {
            throw HearthError(.invalidArgument, "a scrub rule length range is within 1...512")
        }
        self.id = id
        self.prefix = prefixBytes
        self.alphabet = alphabet
        self.minLength = minLength
        self.maxLength = maxLength
    }

    public var ruleID: ScrubRuleID { ScrubRuleID(rawValue: "custom_" + id) }
}

/// Byte classes, inlined comparisons rather than tables: the scanner's hot loop stays branch-light.
enum ByteClass {
    @inline(__always) static func isUpper(_ b: UInt8) -> Bool { b &- 0x41 < 26 }
    @inline(__always) static func isLower(_ b: UInt8) -> Bool { b &- 0x61 < 26 }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }
    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { isAlpha(b) || isDigit(b) }
    @inline(__always) static func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x5F }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) &- 0x61 < 6 }
    @inline(__always) static func isBase64(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x2B || b == 0x2F }
    @inline(__always) static func isBase64URL(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x2D || b == 0x5F }
    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
    @inline(__always) static func isQuote(_ b: UInt8) -> Bool { b == 0x22 || b == 0x27 || b == 0x60 }
}
