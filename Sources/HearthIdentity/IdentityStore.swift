public import Foundation
public import GRDB
public import HearthCore

/// Tenants, users, API tokens and browser sessions, in their own SQLite database. Secrets are
/// stored only as SHA-256 digests (tokens, sessions) or bcrypt hashes (passwords).
///
/// Migrations are append-only: never edit one that has shipped.
public struct IdentityStore: Sendable {
    public struct Policy: Sendable {
        /// bcrypt's cost; each step doubles the work of a sign-in (and of a guess).
        public var bcryptCost: UInt8 = 12
        public var sessionLifetime: TimeInterval = 12 * 3600
        /// Failed sign-ins per (account, address) before each further attempt from there waits:
        /// `backoffBase` doubled per failure, up to `maxBackoff`. Another address is unaffected, so
        /// nobody can lock an account (the operator's included) by failing on purpose.
        public var freeFailures = 3
        public var backoffBase: TimeInterval = 1
        public var maxBackoff: TimeInterval = 15 * 60
        /// Failed sign-ins allowed per source address, for any accounts, within `throttleWindow`:
        /// it slows one address guessing many accounts, and only that address.
        public var maxFailuresPerAddress = 20
        public var throttleWindow: TimeInterval = 15 * 60
        public init() {}
    }

    public static let defaultTenant = "default"
    public static let adminEmail = "admin"

    public let db: any DatabaseWriter
    public let policy: Policy
    /// Where password hashes are computed and checked: off the cooperative pool, bounded.
    public let hasher: BcryptPool
    let tokenCache = TokenCache()

    public init(path: String, policy: Policy = Policy(), hasher: BcryptPool = .shared) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        try self.init(db: try DatabasePool(path: path, configuration: config), policy: policy, hasher: hasher)
    }

    public init(db: any DatabaseWriter, policy: Policy = Policy(), hasher: BcryptPool = .shared) throws {
        self.db = db
        self.policy = policy
        self.hasher = hasher
        try Self.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: identity") { db in
            try db.create(table: "tenant") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "user") { t in
                t.primaryKey("id", .text)
                t.column("tenantId", .text).notNull().indexed().references("tenant")
                t.column("email", .text).notNull().unique()
                t.column("passwordHash", .text)
                t.column("role", .text).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "apiToken") { t in
                t.primaryKey("id", .text)
                t.column("tenantId", .text).notNull().indexed().references("tenant")
                t.column("userId", .text).notNull().indexed().references("user")
                t.column("name", .text).notNull()
                t.column("digest", .text).notNull().unique()
                t.column("prefix", .text).notNull()
                t.column("role", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("expiresAt", .datetime)
                t.column("revokedAt", .datetime)
                t.column("lastUsedAt", .datetime)
            }
            try db.create(table: "session") { t in
                t.primaryKey("id", .text)
                t.column("digest", .text).notNull().unique()
                t.column("userId", .text).notNull().indexed().references("user", onDelete: .cascade)
                t.column("csrf", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("expiresAt", .datetime).notNull()
            }
            try db.create(table: "signInFailure") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("key", .text).notNull().indexed()
                t.column("at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v2: disabled users") { db in
            try db.alter(table: "user") { t in t.add(column: "disabledAt", .datetime) }
            try db.create(index: "signInFailure_at", on: "signInFailure", columns: ["at"])
        }
        return migrator
    }

    func newID(_ prefix: String) -> String { Secrets.random(prefix: prefix, bytes: 8) }
}

/// The identity rows as stored. Only this target sees digests and password hashes.
struct TenantRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "tenant"
    var id: String
    var name: String
    var createdAt: Date
    var tenant: Tenant { Tenant(id: id, name: name, createdAt: createdAt) }
}

struct UserRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "user"
    var id: String
    var tenantId: String
    var email: String
    var passwordHash: String?
    var role: Role
    var createdAt: Date
    var disabledAt: Date?
    var user: User { User(id: id, tenantId: tenantId, email: email, role: role, createdAt: createdAt, disabledAt: disabledAt) }
}

struct TokenRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "apiToken"
    var id: String
    var tenantId: String
    var userId: String
    var name: String
    var digest: String
    var prefix: String
    var role: Role
    var createdAt: Date
    var expiresAt: Date?
    var revokedAt: Date?
    var lastUsedAt: Date?
}

struct SessionRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "session"
    var id: String
    var digest: String
    var userId: String
    var csrf: String
    var createdAt: Date
    var expiresAt: Date
}

struct SignInFailureRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "signInFailure"
    var id: Int64?
    var key: String
    var at: Date
}

extension Role: DatabaseValueConvertible {}

public import Crypto

enum Digest {
    static func hex(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
