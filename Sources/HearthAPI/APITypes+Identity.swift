public import Foundation

extension API {
    public struct SignInBody: Codable, Sendable {
        public var email: String
        public var password: String
        public init(email: String, password: String) {
            self.email = email
            self.password = password
        }
    }

    /// Who the caller is. For a browser session, `csrf` is the token its page must send in
    /// `X-CSRF-Token` with every request that changes state.
    public struct SessionBody: Codable, Sendable, Equatable {
        public var user: String
        public var tenant: String
        public var role: String
        public var csrf: String?
        public init(user: String, tenant: String, role: String, csrf: String?) {
            self.user = user
            self.tenant = tenant
            self.role = role
            self.csrf = csrf
        }
    }

    public struct CreateTenantBody: Codable, Sendable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    public struct TenantBody: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var created_at: Date
        public init(id: String, name: String, created_at: Date) {
            self.id = id
            self.name = name
            self.created_at = created_at
        }
    }

    public struct CreateUserBody: Codable, Sendable {
        public var email: String
        public var tenant: String?
        public var role: String
        public var password: String
        public init(email: String, tenant: String?, role: String, password: String) {
            self.email = email
            self.tenant = tenant
            self.role = role
            self.password = password
        }
    }

    public struct UserBody: Codable, Sendable, Equatable {
        public var id: String
        public var email: String
        public var tenant: String
        public var role: String
        /// When the account was disabled; absent while it is active.
        public var disabled_at: Date?
        public init(id: String, email: String, tenant: String, role: String, disabled_at: Date? = nil) {
            self.id = id
            self.email = email
            self.tenant = tenant
            self.role = role
            self.disabled_at = disabled_at
        }
    }

    public struct UserList: Codable, Sendable {
        public var users: [UserBody]
        public init(users: [UserBody]) { self.users = users }
    }

    /// `PATCH /v1/users/{id}`: what to change. Disabling ends the user's sessions and tokens.
    public struct UpdateUserBody: Codable, Sendable {
        public var role: String?
        public var disabled: Bool?
        public init(role: String? = nil, disabled: Bool? = nil) {
            self.role = role
            self.disabled = disabled
        }
    }

    /// A new password; `current_password` is required when changing one's own.
    public struct PasswordBody: Codable, Sendable {
        public var password: String
        public var current_password: String?
        public init(password: String, current_password: String? = nil) {
            self.password = password
            self.current_password = current_password
        }
    }

    public struct SessionInfoBody: Codable, Sendable, Equatable {
        public var id: String
        public var user: String
        public var created_at: Date
        public var expires_at: Date
        public init(id: String, user: String, created_at: Date, expires_at: Date) {
            self.id = id
            self.user = user
            self.created_at = created_at
            self.expires_at = expires_at
        }
    }

    public struct SessionList: Codable, Sendable {
        public var sessions: [SessionInfoBody]
        public init(sessions: [SessionInfoBody]) { self.sessions = sessions }
    }

    public struct CreateTokenBody: Codable, Sendable {
        public var name: String
        public var tenant: String?
        public var user: String?
        public var role: String?
        /// Seconds until the token expires; nil never.
        public var expires_in: Int?
        public init(name: String, tenant: String? = nil, user: String? = nil, role: String? = nil, expires_in: Int? = nil) {
            self.name = name
            self.tenant = tenant
            self.user = user
            self.role = role
            self.expires_in = expires_in
        }
    }

    public struct TokenBody: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var prefix: String
        public var role: String
        public var tenant: String
        public var user: String
        public var created_at: Date
        public var expires_at: Date?
        public var revoked_at: Date?
        public var last_used_at: Date?
        /// The secret: present only in the answer to its creation.
        public var token: String?
        public init(id: String, name: String, prefix: String, role: String, tenant: String, user: String, created_at: Date,
                    expires_at: Date?, revoked_at: Date?, last_used_at: Date?, token: String?) {
            self.id = id
            self.name = name
            self.prefix = prefix
            self.role = role
            self.tenant = tenant
            self.user = user
            self.created_at = created_at
            self.expires_at = expires_at
            self.revoked_at = revoked_at
            self.last_used_at = last_used_at
            self.token = token
        }
    }

    public struct TokenList: Codable, Sendable {
        public var tokens: [TokenBody]
        public init(tokens: [TokenBody]) { self.tokens = tokens }
    }

    /// One audit event, as exported to a SIEM.
    public struct AuditEventBody: Codable, Sendable, Equatable {
        public var seq: Int64
        public var time: Date
        public var tenant: String
        public var actor: String
        public var action: String
        public var target: String
        public var source_ip: String
        public var result: String
        public var detail: String
        public var previous_hash: String
        public var hash: String
        public init(seq: Int64, time: Date, tenant: String, actor: String, action: String, target: String, source_ip: String,
                    result: String, detail: String, previous_hash: String, hash: String) {
            self.seq = seq
            self.time = time
            self.tenant = tenant
            self.actor = actor
            self.action = action
            self.target = target
            self.source_ip = source_ip
            self.result = result
            self.detail = detail
            self.previous_hash = previous_hash
            self.hash = hash
        }
    }

    public struct AuditVerifyBody: Codable, Sendable, Equatable {
        public var ok: Bool
        public var events: Int
        public var problems: [String]
        public init(ok: Bool, events: Int, problems: [String]) {
            self.ok = ok
            self.events = events
            self.problems = problems
        }
    }
}
