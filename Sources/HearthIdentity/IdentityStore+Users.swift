import Foundation
import GRDB
import HearthCore
import HummingbirdBcrypt

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
        guard password.count >= 8 else { throw HearthError(.invalidArgument, "a password has at least 8 characters") }
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

    /// Checks a password. Failures are counted per account and per source address; past the
    /// limit, sign-in is refused (even with the right password) until the window has passed.
    public func signIn(email: String, password: String, address: String, now: Date = Date()) throws -> User {
        let email = email.lowercased()
        let keys = ["account:" + email, "address:" + address]
        let since = now.addingTimeInterval(-policy.throttleWindow)
        let (accountFailures, addressFailures, row) = try db.read { db in
            (try SignInFailureRow.filter(Column("key") == keys[0] && Column("at") > since).fetchCount(db),
             try SignInFailureRow.filter(Column("key") == keys[1] && Column("at") > since).fetchCount(db),
             try UserRow.filter(Column("email") == email).fetchOne(db))
        }
        if accountFailures >= policy.maxFailuresPerAccount || addressFailures >= policy.maxFailuresPerAddress {
            throw HearthError(.rateLimited, "too many failed sign-ins; try again in \(Int(policy.throttleWindow / 60)) minutes")
        }
        // An unknown account costs the same bcrypt work as a known one, so timing does not reveal it.
        let hash = row?.passwordHash ?? Self.unknownAccountHash
        guard Bcrypt.verify(password, hash: hash), let row else {
            try db.write { db in
                for key in keys { try SignInFailureRow(key: key, at: now).insert(db) }
                try SignInFailureRow.filter(Column("at") < since).deleteAll(db)
            }
            throw HearthError(.unauthorized, "wrong email or password")
        }
        try db.write { db in _ = try SignInFailureRow.filter(Column("key") == keys[0]).deleteAll(db) }
        return row.user
    }

    static let unknownAccountHash = Bcrypt.hash(Secrets.random(prefix: ""), cost: 12)

    static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.count) && name.first != "-"
            && name.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" }
    }
}
