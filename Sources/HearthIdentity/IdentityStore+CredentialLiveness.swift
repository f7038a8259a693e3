public import Foundation
public import GRDB

extension IdentityStore {
    /// Whether the API token with this id is still honoured: present, not revoked, not expired,
    /// and its user still exists and is enabled (the same rules as `authenticate`). For capabilities derived from a token (preview grants), which
    /// must end when the token does.
    public func isTokenLive(id: String, now: Date = Date()) -> Bool {
        let row = try? db.read { db -> TokenRow? in
            guard let row = try TokenRow.fetchOne(db, key: id), let user = try UserRow.fetchOne(db, key: row.userId),
                  user.disabledAt == nil else { return nil }
            return row
        }
        guard let row = row ?? nil else { return false }
        return row.revokedAt == nil && (row.expiresAt.map { $0 > now } ?? true)
    }

    /// Whether the browser session with this id is still signed in, and its user still exists and is enabled.
    public func isSessionLive(id: String, now: Date = Date()) -> Bool {
        let row = try? db.read { db -> SessionRow? in
            guard let row = try SessionRow.fetchOne(db, key: id), let user = try UserRow.fetchOne(db, key: row.userId),
                  user.disabledAt == nil else { return nil }
            return row
        }
        guard let row = row ?? nil else { return false }
        return row.expiresAt > now
    }
}
