public import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HearthCore

/// The secret that keys the audit chain. It lives in its own file (`audit.key`, mode 0600) next to
/// the log, never in the database: whoever can rewrite `audit.sqlite` but not read this file can
/// no longer recompute a chain after cutting or editing events.
///
/// A log written before the chain was keyed keeps its old SHA-256 events; the key file records
/// where they end (`legacy`), and every later event is an HMAC.
public struct AuditKey: Sendable {
    public let key: SymmetricKey
    /// The last event chained with plain SHA-256 before the key existed, if any.
    public let legacy: Legacy?
    /// Whether this key's log keeps an anchor beside the key (`AuditLog+Anchor`). Key files
    /// written before anchors existed say no until their log is next opened.
    public let anchored: Bool

    public struct Legacy: Sendable, Equatable {
        public var seq: Int64
        public var hash: String
    }

    public init(key: SymmetricKey, legacy: Legacy? = nil, anchored: Bool = false) {
        self.key = key
        self.legacy = legacy
        self.anchored = anchored
    }

    /// A fresh 256-bit key (tests and new logs).
    public static func random() -> AuditKey { AuditKey(key: SymmetricKey(size: .bits256)) }

    /// Reads `path`, or creates it (0600, exclusively) around a log whose newest event is `last`.
    /// A key without an anchor (new, or from before anchors) gets one: `anchor` is called with the
    /// anchored key first, and only then is the key file written saying so, so a crash between the
    /// two never leaves a key that promises an anchor nobody wrote.
    static func loadOrCreate(path: String, last: (seq: Int64, hash: String)?, anchor: (AuditKey) throws -> Void) throws -> AuditKey {
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let key = parse(text) else {
                throw HearthError(.internal, "the audit key file is damaged", detail: "cannot parse \(path)")
            }
            if key.anchored { return key }
            let anchoredKey = AuditKey(key: key.key, legacy: key.legacy, anchored: true)
            try anchor(anchoredKey)
            try AuditFile.replace(path, with: Array(anchoredKey.serialized.utf8), what: "the audit key", syncingDirectory: true)
            return anchoredKey
        }
        let key = AuditKey(key: SymmetricKey(size: .bits256), legacy: last.map { Legacy(seq: $0.seq, hash: $0.hash) }, anchored: true)
        try anchor(key)
        try write(key, to: path, exclusive: true)
        return key
    }

    /// Writes `key` to `path` (0600, never through a link) and syncs it.
    static func write(_ key: AuditKey, to path: String, exclusive: Bool) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0o600)
        guard fd >= 0 else {
            throw HearthError(.internal, "cannot create the audit key", detail: "open \(path): errno \(errno)")
        }
        defer { close(fd) }
        let bytes = Array(key.serialized.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count, fsync(fd) == 0 else {
            unlink(path)
            throw HearthError(.internal, "cannot write the audit key", detail: "write \(path): errno \(errno)")
        }
    }

    var serialized: String {
        let hex = key.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        return "v1 \(hex) \(legacy?.seq ?? 0) \(legacy?.hash ?? AuditEvent.genesis)\(anchored ? " anchored" : "")\n"
    }

    static func parse(_ text: String) -> AuditKey? {
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 4 || (parts.count == 5 && parts[4] == "anchored"), parts[0] == "v1", parts[1].count == 64,
              let bytes = hexBytes(parts[1]), let seq = Int64(parts[2]), seq >= 0 else { return nil }
        return AuditKey(key: SymmetricKey(data: bytes), legacy: seq == 0 ? nil : Legacy(seq: seq, hash: String(parts[3])),
                        anchored: parts.count == 5)
    }

    static func hexBytes<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[i]), let low = hexValue(digits[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// HMAC-SHA256 of `bytes`, in hex.
    func mac(_ bytes: [UInt8]) -> String {
        HMAC<SHA256>.authenticationCode(for: bytes, using: key).map { String(format: "%02x", $0) }.joined()
    }

    /// What the head file's MAC covers: a domain tag, so an event's MAC can never pass for a head's.
    func headMAC(seq: Int64, hash: String) -> String {
        mac(Array("hearth-audit-head\0\(seq)\0\(hash)".utf8))
    }

    /// The anchor's MAC, under a tag of its own, so a copy of the head file never passes for an anchor.
    func anchorMAC(seq: Int64, hash: String) -> String {
        mac(Array("hearth-audit-anchor\0\(seq)\0\(hash)".utf8))
    }
}

/// Compares two MACs without revealing, through timing, how much of a guess was right.
func macEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for (p, q) in zip(x, y) { difference |= p ^ q }
    return difference == 0
}
