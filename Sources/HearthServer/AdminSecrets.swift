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
        let token = IdentityStore.newTokenSecret()
        try writeSecret(token, to: path)
        return (token, path)
    }

    static func writeSecret(_ secret: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw HearthError(.internal, "cannot write a secret", detail: "\(path): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array((secret + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw HearthError(.internal, "cannot write a secret", detail: path) }
    }
}
