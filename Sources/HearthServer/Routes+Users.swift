import Foundation
import HearthAPI
import HearthCore
import HearthIdentity
import Hummingbird

/// The user lifecycle: list, disable and enable, delete, change a role, change or reset a
/// password, and list and revoke browser sessions. A tenant's admin manages its own users; the
/// operator, every tenant's. A user of another tenant is "not found", as if it did not exist.
/// Ending a user (disable, delete) ends their sessions and tokens, and so their preview grants.
struct UserRoutes {
    let identity: IdentityStore
    let auditor: Auditor
    let userDeleted: @Sendable (User) throws -> Void

    func register(on router: Router<HearthContext>) {
        router.get("/v1/users") { request, context in
            let principal = try context.admin()
            var tenant = Tenant(id: principal.tenantId, name: principal.tenantName, createdAt: Date())
            if let name = request.uri.queryParameters.get("tenant"), name != principal.tenantName {
                guard principal.isOperator else { throw HearthError(.forbidden, "only an admin of the default tenant can do this") }
                guard let found = try identity.tenant(named: String(name)) else { throw HearthError(.notFound, "no tenant \(name)") }
                tenant = found
            }
            let users = try identity.users(tenantId: tenant.id)
            return try json(API.UserList(users: users.map { Self.body($0, tenant: tenant.name) }))
        }
        router.patch("/v1/users/:id") { request, context in
            let principal = try context.admin()
            let user = try target(context)
            let body = try await request.decode(as: API.UpdateUserBody.self, context: context)
            if user.id == principal.userId, body.disabled == true || (body.role != nil && body.role != Role.admin.rawValue) {
                throw HearthError(.forbidden, "you cannot disable or demote yourself; ask another admin")
            }
            var updated = user
            if let name = body.role {
                guard let role = Role(rawValue: name) else { throw HearthError(.invalidArgument, "the role is admin, member or viewer") }
                updated = try await auditor.around(context, "user.role", target: user.email, detail: "role=\(role.rawValue)") {
                    try identity.setRole(user, role)
                }
            }
            if let disabled = body.disabled {
                updated = try await auditor.around(context, disabled ? "user.disable" : "user.enable", target: user.email) {
                    try identity.setDisabled(user, disabled)
                }
            }
            return try json(Self.body(updated, tenant: try tenantName(updated)))
        }
        router.delete("/v1/users/:id") { _, context in
            let principal = try context.admin()
            let user = try target(context)
            guard user.id != principal.userId else { throw HearthError(.forbidden, "you cannot delete yourself; ask another admin") }
            try await auditor.around(context, "user.delete", target: user.email) {
                // Their keys first: a failure after leaves a user without keys, never keys without a user.
                try userDeleted(user)
                try identity.deleteUser(user)
            }
            return Response(status: .noContent)
        }
        // An admin resets a user's password; a user changes their own with the current one.
        router.put("/v1/users/:id/password") { request, context in
            let principal = try context.caller()
            let id = try context.parameters.require("id")
            let body = try await request.decode(as: API.PasswordBody.self, context: context)
            let user: User
            var current: String?
            if id == principal.userId {
                guard let me = try identity.user(id: id) else { throw HearthError(.notFound, "no user \(id)") }
                user = me
                guard let given = body.current_password else {
                    throw HearthError(.invalidArgument, "changing your own password needs current_password")
                }
                current = given
            } else {
                _ = try context.admin()
                user = try target(context)
            }
            try await auditor.around(context, id == principal.userId ? "user.password.change" : "user.password.reset", target: user.email) {
                try await identity.setPassword(user, to: body.password, current: current)
            }
            return Response(status: .noContent)
        }
        router.get("/v1/sessions") { request, context in
            let principal = try context.caller()
            let user: User
            if let id = request.uri.queryParameters.get("user"), String(id) != principal.userId {
                _ = try context.admin()
                user = try target(context, id: String(id))
            } else {
                guard let me = try identity.user(id: principal.userId) else { throw HearthError(.notFound, "no user") }
                user = me
            }
            let sessions = try identity.sessions(of: user)
            return try json(API.SessionList(sessions: sessions.map {
                API.SessionInfoBody(id: $0.id, user: $0.user, created_at: $0.createdAt, expires_at: $0.expiresAt)
            }))
        }
        router.delete("/v1/sessions/:id") { _, context in
            let principal = try context.caller()
            let id = try context.parameters.require("id")
            guard let owner = try identity.sessionOwner(id: id),
                  owner.id == principal.userId || principal.isOperator || (principal.role == .admin && owner.tenantId == principal.tenantId)
            else { throw HearthError(.notFound, "no session \(id)") }
            try await auditor.around(context, "session.revoke", target: owner.email, detail: "session \(id)") { try identity.endSession(id: id) }
            return Response(status: .noContent)
        }
    }

    /// The user in the `id` path parameter (or `id`), if the caller administers its tenant.
    func target(_ context: HearthContext, id: String? = nil) throws -> User {
        let principal = try context.admin()
        let id = try id ?? context.parameters.require("id")
        let user = try principal.isOperator ? identity.user(id: id) : identity.user(id: id, tenantId: principal.tenantId)
        guard let user else { throw HearthError(.notFound, "no user \(id)") }
        return user
    }

    func tenantName(_ user: User) throws -> String { try identity.tenant(id: user.tenantId)?.name ?? user.tenantId }

    static func body(_ user: User, tenant: String) -> API.UserBody {
        API.UserBody(id: user.id, email: user.email, tenant: tenant, role: user.role.rawValue, disabled_at: user.disabledAt)
    }
}
