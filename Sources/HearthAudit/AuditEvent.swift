import Crypto
public import Foundation

/// One recorded action. `hash` chains it to every event before it: editing, removing or
/// reordering any event breaks the chain from that point on.
public struct AuditEvent: Codable, Sendable, Equatable {
    public var seq: Int64
    /// Milliseconds since 1970: an integer, so the hashed encoding never depends on float formatting.
    public var timeMillis: Int64
    public var tenant: String
    /// Who acted: a user's email, or "anonymous" for a failed sign-in.
    public var actor: String
    public var action: String
    public var target: String
    public var sourceIP: String
    /// "ok", or the error code the action failed with.
    public var result: String
    /// Action-specific facts (a command line, a token's prefix). Never a secret.
    public var detail: String
    public var previousHash: String
    public var hash: String

    public var time: Date { Date(timeIntervalSince1970: Double(timeMillis) / 1000) }

    /// What is hashed: every field but `hash`, in a fixed order, length-prefixed so no two
    /// different events encode the same.
    public var canonicalBytes: [UInt8] {
        var bytes = [UInt8]()
        for field in [String(seq), String(timeMillis), tenant, actor, action, target, sourceIP, result, detail, previousHash] {
            let utf8 = Array(field.utf8)
            bytes += Array(String(utf8.count).utf8) + [0x3A] + utf8
        }
        return bytes
    }

    public func computedHash() -> String {
        SHA256.hash(data: canonicalBytes).map { String(format: "%02x", $0) }.joined()
    }

    public static let genesis = String(repeating: "0", count: 64)
}

/// An event before the log numbers and chains it.
public struct AuditRecord: Sendable {
    public var tenant: String
    public var actor: String
    public var action: String
    public var target: String
    public var sourceIP: String
    public var result: String
    public var detail: String

    public init(tenant: String, actor: String, action: String, target: String = "", sourceIP: String = "",
                result: String = "ok", detail: String = "") {
        self.tenant = tenant
        self.actor = actor
        self.action = action
        self.target = target
        self.sourceIP = sourceIP
        self.result = result
        self.detail = detail
    }
}
