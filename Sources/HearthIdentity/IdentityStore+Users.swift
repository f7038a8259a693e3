public import Foundation
public import GRDB
public import HearthCore
public import HummingbirdBcrypt

extension IdentityStore {
    /// What first start created, for the caller to write to disk.
    public struct Bootstrap: Sendable {
        public var adminPassword: String?
        public var tenant: Tenant
        public var admin: User
    }

    /// Creates tenant `default` and user `admin` on first start; later starts change nothing.
    /// `adminTokenDigest` registers the token in `DATA/admin.token` as the admin's.
    public func bootstrap(adminToken: String, now: Date = Date()) throws -> Bootstrap {
        let existing = try db.read { db -> (TenantRow, UserRow)? in
            guard let tenant = try TenantRow.filter(Column("name") == Self.defaultTenant).fetchOne(db),
                  let admin = try UserRow.filter(Column("email") == Self.adminEmail).fetchOne(db) else { return nil }
            return (tenant, admin)
        }
        var password: String?
        let (tenant, admin): (TenantRow, UserRow)
        if let existing {
            (tenant, admin) = existing
        } else {
            let secret = Secrets.random(prefix: "", bytes: 12)
            let hash = Bcrypt.hash(secret, cost: policy.bcryptCost)
            password = secret
            (tenant, admin) = try db.write { db in
                let tenant = TenantRow(id: Tenancy.defaultTenantID, name: Self.defaultTenant, createdAt: now)
                try tenant.insert(db)
                let admin = UserRow(id: newID("us_"), tenantId: tenant.id, email: Self.adminEmail, passwordHash: hash, role: .admin, createdAt: now)
                try admin.insert(db)
                return (tenant, admin)
            }
        }
        let digest = Digest.hex(adminToken)
        try db.write { db in
            if try TokenRow.filter(Column("digest") == digest).fetchCount(db) == 0 {
                try TokenRow(id: newID("tk_"), tenantId: tenant.id, userId: admin.id, name: "admin.token", digest: digest,
                             prefix: String(adminToken.prefix(8)), role: .admin, createdAt: now).insert(db)
            }
        }
        return Bootstrap(adminPassword: password, tenant: tenant.tenant, admin: admin.user)
    }

    public func createTenant(name: String, now: Date = Date()) throws -> Tenant {
        guard Self.isValidName(name) else {
            throw HearthError(.invalidArgument, "a tenant name is 1-63 lowercase letters, digits and dashes")
        }
        let row = TenantRow(id: newID("tn_"), name: name, createdAt: now)
        do {
            try db.write { db in try row.insert(db) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw HearthError(.conflict, "a tenant named \(name) already exists")
        }
        return row.tenant
    }

    public func tenant(named name: String) throws -> Tenant? {
        try db.read { db in try TenantRow.filter(Column("name") == name).fetchOne(db)?.tenant }
    }

    public func tenant(id: String) throws -> Tenant? {
        try db.read { db in try TenantRow.fetchOne(db, key: id)?.tenant }
    }

    public func createUser(email: String, tenantId: String, role: Role, password: String, now: Date = Date()) throws -> User {
        let email = email.lowercased()
        guard email.count <= 254, !email.isEmpty, !email.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw HearthError(.invalidArgument, "an email is 1-254 characters without spaces")
        }
        guard (8...1024).contains(password.count) else { throw HearthError(.invalidArgument, "a password has 8-1024 characters") }
        let row = UserRow(id: newID("us_"), tenantId: tenantId, email: email, passwordHash: Bcrypt.hash(password, cost: policy.bcryptCost),
                          role: role, createdAt: now)
        do {
            try db.write { db in try row.insert(db) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw HearthError(.conflict, "a user \(email) already exists")
        }
        return row.user
    }

    /// A user of `tenantId`; users of other tenants do not exist from its point of view.
    public func user(email: String, tenantId: String) throws -> User? {
        try db.read { db in
            try UserRow.filter(Column("email") == email.lowercased() && Column("tenantId") == tenantId).fetchOne(db)?.user
        }
    }

    public func users(tenantId: String) throws -> [User] {
        try db.read { db in try UserRow.filter(Column("tenantId") == tenantId).order(Column("email")).fetchAll(db).map(\.user) }
    }

    /// Checks a password on the bcrypt pool. Failures are counted per (account, address): past
    /// `freeFailures`, that pair waits an exponentially growing delay before its next attempt, while
    /// the right password from anywhere else still works. Per address, failures for any accounts
    /// are capped within the window. A refusal says when to retry (`retry-after=` in its detail).
    public func signIn(email: String, password: String, address: String, now: Date = Date()) async throws -> User {
        let email = String(email.lowercased().prefix(254))
        let pairKey = "pair:" + email + "\n" + address, addressKey = "address:" + address
        let since = now.addingTimeInterval(-policy.throttleWindow)
        let (pair, lastPairFailure, addressFailures, oldestAddressFailure, row) = try await db.read { db in
            let pair = SignInFailureRow.filter(Column("key") == pairKey && Column("at") > since)
            let address = SignInFailureRow.filter(Column("key") == addressKey && Column("at") > since)
            return (try pair.fetchCount(db), try pair.order(Column("at").desc).fetchOne(db)?.at,
                    try address.fetchCount(db), try address.order(Column("at")).fetchOne(db)?.at,
                    try UserRow.filter(Column("email") == email).fetchOne(db))
        }
        if addressFailures >= policy.maxFailuresPerAddress, let oldest = oldestAddressFailure {
            throw Self.throttled("too many failed sign-ins from your address", wait: oldest.timeIntervalSince(now) + policy.throttleWindow)
        }
        if let delay = Self.backoff(failures: pair, policy: policy), let last = lastPairFailure, now < last.addingTimeInterval(delay) {
            throw Self.throttled("too many failed sign-ins for this account from your address", wait: last.addingTimeInterval(delay).timeIntervalSince(now))
        }
        // An unknown account costs the same bcrypt work as a known one, so timing does not reveal it.
        let stored = row?.passwordHash
        let matches = try await hasher.run { Bcrypt.verify(password, hash: stored ?? Self.unknownAccountHash) }
        guard matches, let row else {
            try await db.write { db in
                for key in [pairKey, addressKey] { try SignInFailureRow(key: key, at: now).insert(db) }
                try SignInFailureRow.filter(Column("at") < since).deleteAll(db)
            }
            throw HearthError(.unauthorized, "wrong email or password")
        }
        if row.disabledAt != nil { throw HearthError(.unauthorized, "this account is disabled") }
        try await db.write { db in _ = try SignInFailureRow.filter(Column("key") == pairKey).deleteAll(db) }
        return row.user
    }

    /// How long a (account, address) pair waits after `failures` failures, or nil for no wait.
    static func backoff(failures: Int, policy: Policy) -> TimeInterval? {
        guard failures >= policy.freeFailures else { return nil }
        let exponent = min(failures - policy.freeFailures, 30)
        return min(policy.backoffBase * Double(1 << exponent), policy.maxBackoff)
    }

    static func throttled(_ reason: String, wait: TimeInterval) -> HearthError {
        let seconds = Int(exactly: max(1, min(wait, 86_400)).rounded(.up)) ?? 1
        return HearthError(.rateLimited, "\(reason); try again in \(seconds) s", detail: "retry-after=\(seconds)")
    }

    static let unknownAccountHash = Bcrypt.hash(Secrets.random(prefix: ""), cost: 12)

    static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.count) && name.first != "-"
            && name.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" }
    }
}
