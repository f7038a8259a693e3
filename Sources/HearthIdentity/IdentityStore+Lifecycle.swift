public import Foundation
public import GRDB
public import HearthCore
public import HummingbirdBcrypt

/// A user's life after creation: disable, delete, change role, change or reset a password, and
/// their browser sessions. Ending a user ends every credential they hold: sessions are deleted and
/// tokens revoked in the same transaction, and the token cache is emptied after it commits, so no
/// request authenticates as them afterwards. (Preview grants are bound to the credential that
/// opened them and end with it.)
extension IdentityStore {
    /// The bootstrap operator (`admin` of `default`) cannot be disabled, deleted or demoted: it
    /// owns `admin.token`, the way back in.
    func mutableUser(_ user: User) throws -> User {
        if user.tenantId == Tenancy.defaultTenantID, user.email == Self.adminEmail {
            throw HearthError(.forbidden, "the operator account \(Self.adminEmail) cannot be disabled, deleted or demoted")
        }
        return user
    }

    /// Disables (or enables) `user`. Disabling deletes their sessions and revokes their tokens.
    @discardableResult
    public func setDisabled(_ user: User, _ disabled: Bool, now: Date = Date()) throws -> User {
        let user = try mutableUser(user)
        defer { tokenCache.removeAll() }
        return try db.write { db in
            guard var row = try UserRow.fetchOne(db, key: user.id) else { throw HearthError(.notFound, "no user \(user.email)") }
            row.disabledAt = disabled ? (row.disabledAt ?? now) : nil
            try row.update(db)
            if disabled { try Self.endCredentials(of: row.id, db, now: now) }
            return row.user
        }
    }

    /// Deletes `user` with their sessions and tokens.
    public func deleteUser(_ user: User) throws {
        let user = try mutableUser(user)
        defer { tokenCache.removeAll() }
        try db.write { db in
            try SessionRow.filter(Column("userId") == user.id).deleteAll(db)
            try TokenRow.filter(Column("userId") == user.id).deleteAll(db)
            guard try UserRow.deleteOne(db, key: user.id) else { throw HearthError(.notFound, "no user \(user.email)") }
        }
    }

    /// Gives `user` a new role. Tokens never exceed their user's role (checked on every
    /// authentication), so a demotion takes effect on every credential at once.
    @discardableResult
    public func setRole(_ user: User, _ role: Role) throws -> User {
        let user = role == .admin ? user : try mutableUser(user)
        defer { tokenCache.removeAll() }
        return try db.write { db in
            guard var row = try UserRow.fetchOne(db, key: user.id) else { throw HearthError(.notFound, "no user \(user.email)") }
            row.role = role
            try row.update(db)
            return row.user
        }
    }

    /// Sets a new password (hashed on the bcrypt pool) and ends the user's browser sessions, so a
    /// stolen session does not outlive the reset. `current`, when given, must be the old password.
    public func setPassword(_ user: User, to password: String, current: String? = nil) async throws {
        guard (8...1024).contains(password.count) else { throw HearthError(.invalidArgument, "a password has 8-1024 characters") }
        if let current {
            let stored = try await db.read { db in try UserRow.fetchOne(db, key: user.id)?.passwordHash } ?? Self.unknownAccountHash
            guard try await hasher.run({ Bcrypt.verify(current, hash: stored) }) else {
                throw HearthError(.forbidden, "the current password is wrong")
            }
        }
        let cost = policy.bcryptCost
        let hash = try await hasher.run { Bcrypt.hash(password, cost: cost) }
        try await db.write { db in
            guard var row = try UserRow.fetchOne(db, key: user.id) else { throw HearthError(.notFound, "no user \(user.email)") }
            row.passwordHash = hash
            try row.update(db)
            try SessionRow.filter(Column("userId") == user.id).deleteAll(db)
        }
    }

    /// The unexpired browser sessions of `user`.
    public func sessions(of user: User, now: Date = Date()) throws -> [SessionInfo] {
        try db.read { db in
            try SessionRow.filter(Column("userId") == user.id && Column("expiresAt") > now).order(Column("createdAt")).fetchAll(db)
                .map { SessionInfo(id: $0.id, user: user.email, createdAt: $0.createdAt, expiresAt: $0.expiresAt) }
        }
    }

    /// The user a session belongs to, if it exists.
    public func sessionOwner(id: String) throws -> User? {
        try db.read { db in
            guard let session = try SessionRow.fetchOne(db, key: id) else { return nil }
            return try UserRow.fetchOne(db, key: session.userId)?.user
        }
    }

    /// A user by id, in any tenant (the operator's lookups).
    public func user(id: String) throws -> User? {
        try db.read { db in try UserRow.fetchOne(db, key: id)?.user }
    }

    /// A user of `tenantId` by id.
    public func user(id: String, tenantId: String) throws -> User? {
        try db.read { db in try UserRow.filter(Column("id") == id && Column("tenantId") == tenantId).fetchOne(db)?.user }
    }

    static func endCredentials(of userId: String, _ db: Database, now: Date) throws {
        try SessionRow.filter(Column("userId") == userId).deleteAll(db)
        try db.execute(sql: "UPDATE apiToken SET revokedAt = ? WHERE userId = ? AND revokedAt IS NULL", arguments: [now, userId])
    }
}
