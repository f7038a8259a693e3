public import Foundation
public import GRDB
public import HearthCore

extension IdentityStore {
    public static let tokenPrefix = "hth_"

    /// A new token secret: `hth_` and 32 hex digits, 128 bits from the system CSPRNG, with a
    /// prefix that secret scanners can find.
    public static func newTokenSecret() -> String { Secrets.random(prefix: tokenPrefix) }

    /// Issues a token for `user`. Its role is at most the user's. The secret is returned once and
    /// only its digest is kept.
    public func createToken(name: String, for user: User, role: Role? = nil, expiresAt: Date? = nil,
                            now: Date = Date()) throws -> (TokenInfo, secret: String) {
        guard (1...100).contains(name.count) else { throw HearthError(.invalidArgument, "a token name is 1-100 characters") }
        let role = role ?? user.role
        guard role <= user.role else {
            throw HearthError(.forbidden, "a token cannot have more rights than its user (\(user.role.rawValue))")
        }
        if let expiresAt, expiresAt <= now { throw HearthError(.invalidArgument, "the expiry is in the past") }
        let secret = Self.newTokenSecret()
        let row = TokenRow(id: newID("tk_"), tenantId: user.tenantId, userId: user.id, name: name, digest: Digest.hex(secret),
                           prefix: String(secret.prefix(8)), role: role, createdAt: now, expiresAt: expiresAt)
        try db.write { db in try row.insert(db) }
        return (try info(row), secret)
    }

    /// The tokens of a tenant (admins) or of one user (everyone else).
    public func tokens(tenantId: String, userId: String?) throws -> [TokenInfo] {
        let rows = try db.read { db in
            var request = TokenRow.filter(Column("tenantId") == tenantId)
            if let userId { request = request.filter(Column("userId") == userId) }
            return try request.order(Column("createdAt")).fetchAll(db)
        }
        return try rows.map(info)
    }

    /// Revokes a token its owner (or an admin of its tenant) can see. Another tenant's token is
    /// "not found", as if it did not exist.
    @discardableResult
    public func revokeToken(id: String, by principal: Principal, now: Date = Date()) throws -> TokenInfo {
        // Emptied after the write commits, so no read from before it can be cached again.
        defer { tokenCache.removeAll() }
        return try db.write { db in
            // The operator revokes any token, as it can create one in any tenant; a tenant's admin,
            // its tenant's; anyone else, their own.
            guard var row = try TokenRow.fetchOne(db, key: id),
                  principal.isOperator || (row.tenantId == principal.tenantId && (principal.role == .admin || row.userId == principal.userId)) else {
                throw HearthError(.notFound, "no token \(id)")
            }
            if row.revokedAt == nil {
                row.revokedAt = now
                try row.update(db)
            }
            return try info(row, db)
        }
    }

    /// The principal a bearer token stands for, or an `unauthorized` error that says why not.
    public func authenticate(token: String, now: Date = Date()) throws -> Principal {
        guard token.hasPrefix(Self.tokenPrefix) else { throw HearthError(.unauthorized, "a valid bearer token is required") }
        let digest = Digest.hex(token)
        if let cached = tokenCache.principal(digest: digest, now: now) { return cached }
        let generation = tokenCache.generation
        let found = try db.read { db -> (TokenRow, UserRow, TenantRow)? in
            guard let row = try TokenRow.filter(Column("digest") == digest).fetchOne(db),
                  let user = try UserRow.fetchOne(db, key: row.userId),
                  let tenant = try TenantRow.fetchOne(db, key: row.tenantId) else { return nil }
            return (row, user, tenant)
        }
        guard let (row, user, tenant) = found else { throw HearthError(.unauthorized, "a valid bearer token is required") }
        if user.disabledAt != nil { throw HearthError(.unauthorized, "this account is disabled") }
        if row.revokedAt != nil { throw HearthError(.unauthorized, "this token has been revoked") }
        if let expiry = row.expiresAt, expiry <= now { throw HearthError(.unauthorized, "this token has expired") }
        // One write a minute at most, so a busy token does not turn every read into a write.
        if row.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            _ = try? db.write { db in
                try db.execute(sql: "UPDATE apiToken SET lastUsedAt = ? WHERE id = ?", arguments: [now, row.id])
            }
        }
        let principal = Principal(tenantId: tenant.id, tenantName: tenant.name, userId: user.id, email: user.email,
                                  role: min(row.role, user.role), credential: .token(id: row.id))
        tokenCache.store(principal, digest: digest, expiresAt: row.expiresAt, now: now, lookedUpAt: generation)
        return principal
    }

    // MARK: Sessions

    /// A browser session for `user`: the cookie's secret and the CSRF token its page must echo.
    public func createSession(for user: User, now: Date = Date()) throws -> (secret: String, csrf: String) {
        let secret = Secrets.random(prefix: "hss_", bytes: 32)
        let csrf = Secrets.random(prefix: "", bytes: 16)
        try db.write { db in
            try SessionRow(id: newID("se_"), digest: Digest.hex(secret), userId: user.id, csrf: csrf, createdAt: now,
                           expiresAt: now.addingTimeInterval(policy.sessionLifetime)).insert(db)
            try SessionRow.filter(Column("expiresAt") < now).deleteAll(db)
        }
        return (secret, csrf)
    }

    public func authenticate(session secret: String, now: Date = Date()) throws -> Principal {
        let digest = Digest.hex(secret)
        let found = try db.read { db -> (SessionRow, UserRow, TenantRow)? in
            guard let row = try SessionRow.filter(Column("digest") == digest).fetchOne(db),
                  let user = try UserRow.fetchOne(db, key: row.userId),
                  let tenant = try TenantRow.fetchOne(db, key: user.tenantId) else { return nil }
            return (row, user, tenant)
        }
        guard let (row, user, tenant) = found, row.expiresAt > now, user.disabledAt == nil else {
            throw HearthError(.unauthorized, "your session has ended; sign in again")
        }
        return Principal(tenantId: tenant.id, tenantName: tenant.name, userId: user.id, email: user.email, role: user.role,
                         credential: .session(id: row.id, csrf: row.csrf))
    }

    public func endSession(id: String) throws {
        _ = try db.write { db in try SessionRow.deleteOne(db, key: id) }
    }

    // MARK: Helpers

    func info(_ row: TokenRow) throws -> TokenInfo {
        try db.read { db in try info(row, db) }
    }

    func info(_ row: TokenRow, _ db: Database) throws -> TokenInfo {
        let tenant = try TenantRow.fetchOne(db, key: row.tenantId)?.name ?? row.tenantId
        let user = try UserRow.fetchOne(db, key: row.userId)?.email ?? row.userId
        return TokenInfo(id: row.id, name: row.name, prefix: row.prefix, role: row.role, tenant: tenant, user: user,
                         createdAt: row.createdAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt, lastUsedAt: row.lastUsedAt)
    }
}
