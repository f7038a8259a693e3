import Crypto
import Foundation
import HearthCore

/// The bearer token created at first start in `DATA/admin.token` (mode 0600). The server keeps only
/// its SHA-256 and compares in constant time.
public struct AdminToken: Sendable {
    public static let prefix = "hth_"
    let digest: [UInt8]

    public init(token: String) { digest = Array(SHA256.hash(data: Data(token.utf8))) }

    public static func loadOrCreate(dataDirectory: String) throws -> (AdminToken, path: String) {
        let path = dataDirectory + "/admin.token"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           !existing.isEmpty {
            return (AdminToken(token: existing), path)
        }
        let token = generate()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw HearthError(.internal, "cannot write the admin token", detail: "\(path): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array((token + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw HearthError(.internal, "cannot write the admin token") }
        return (AdminToken(token: token), path)
    }

    /// `hth_` and 32 hex digits: 128 bits from the system CSPRNG, with a prefix scanners can find.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return prefix + bytes.map { String(format: "%02x", $0) }.joined()
    }

    public func matches(_ candidate: String) -> Bool {
        let other = Array(SHA256.hash(data: Data(candidate.utf8)))
        var difference: UInt8 = 0
        for (a, b) in zip(digest, other) { difference |= a ^ b }
        return difference == 0 && other.count == digest.count
    }
}
