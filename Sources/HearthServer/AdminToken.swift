import Foundation
import HearthCore
import HearthIdentity

/// The secrets written at first start: the admin's API token in `DATA/admin.token` and password in
/// `DATA/admin.password`, both mode 0600. The server itself keeps only their digests.
enum AdminSecrets {
    /// The admin token, read back or created.
    static func loadOrCreateToken(dataDirectory: String) throws -> (token: String, path: String) {
        let path = dataDirectory + "/admin.token"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           !existing.isEmpty {
            return (existing, path)
        }
        let token = generateToken()
        try writeSecret(token, to: path)
        return (token, path)
    }

    /// `hth_` and 32 hex digits: 128 bits from the system CSPRNG, with a prefix scanners can find.
    static func generateToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return IdentityStore.tokenPrefix + bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func writeSecret(_ secret: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw HearthError(.internal, "cannot write a secret", detail: "\(path): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array((secret + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw HearthError(.internal, "cannot write a secret", detail: path) }
    }
}
