public import Foundation
public import HearthCore

/// What a member of a tenant may do. Ordered: each role can do everything the ones below it can.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    case viewer, member, admin

    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
    var rank: Int { switch self { case .viewer: 0; case .member: 1; case .admin: 2 } }

    /// Viewers read; members and admins also change workspaces.
    public var canWrite: Bool { self >= .member }
}

public struct Tenant: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public init(id: String, name: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }
}

public struct User: Codable, Sendable, Equatable {
    public var id: String
    public var tenantId: String
    public var email: String
    public var role: Role
    public var createdAt: Date
    /// When an admin disabled the account; a disabled user signs in and authenticates with nothing.
    public var disabledAt: Date?
    public init(id: String, tenantId: String, email: String, role: Role, createdAt: Date, disabledAt: Date? = nil) {
        self.id = id
        self.tenantId = tenantId
        self.email = email
        self.role = role
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }
}

/// Who is making a request, derived from its credential alone. The tenant comes from here and
/// never from the request, so every lookup is scoped by something the caller cannot choose.
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        case token(id: String)
        /// A browser session; its state-changing requests must carry `csrf`.
        case session(id: String, csrf: String)
    }

    public var tenantId: String
    public var tenantName: String
    public var userId: String
    public var email: String
    /// The effective role: a token's role, never more than its user's.
    public var role: Role
    public var credential: Credential

    public init(tenantId: String, tenantName: String, userId: String, email: String, role: Role, credential: Credential) {
        self.tenantId = tenantId
        self.tenantName = tenantName
        self.userId = userId
        self.email = email
        self.role = role
        self.credential = credential
    }

    /// An admin of the default tenant: the server's operator, who administers every tenant.
    public var isOperator: Bool { role == .admin && tenantId == Tenancy.defaultTenantID }

    public var isBrowserSession: Bool {
        if case .session = credential { return true }
        return false
    }
}

/// An API token as its owner sees it. The secret itself is shown once, at creation.
public struct TokenInfo: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// The first characters of the secret (`hth_1a2b…`), enough to recognise it in a leak report.
    public var prefix: String
    public var role: Role
    public var tenant: String
    public var user: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
}

/// A browser session as an admin or its owner sees it; never its secret.
public struct SessionInfo: Codable, Sendable, Equatable {
    public var id: String
    public var user: String
    public var createdAt: Date
    public var expiresAt: Date
}

enum Secrets {
    /// `prefix` and 32 hex digits: 128 bits from the system CSPRNG.
    static func random(prefix: String, bytes count: Int = 16) -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
