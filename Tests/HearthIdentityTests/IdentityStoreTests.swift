import Foundation
import GRDB
import HearthCore
import HearthIdentity
import Testing

@Suite struct IdentityStoreTests {
    static func store(now: Date = Date()) throws -> (IdentityStore, IdentityStore.Bootstrap, adminToken: String) {
        var policy = IdentityStore.Policy()
        policy.bcryptCost = 4
        let store = try IdentityStore(db: try DatabaseQueue(), policy: policy)
        let token = "hth_" + String(repeating: "ab", count: 16)
        return (store, try store.bootstrap(adminToken: token, now: now), token)
    }

    @Test func firstStartCreatesTheDefaultTenantAndAdminOnce() async throws {
        let (store, boot, token) = try Self.store()
        #expect(boot.tenant.name == "default")
        #expect(boot.admin.role == .admin)
        let password = try #require(boot.adminPassword)
        #expect(password.count >= 16)
        let again = try store.bootstrap(adminToken: token)
        #expect(again.adminPassword == nil)
        #expect(again.admin.id == boot.admin.id)
        let principal = try store.authenticate(token: token)
        #expect(principal.role == .admin && principal.tenantName == "default")
        #expect(try await store.signIn(email: "admin", password: password, address: "127.0.0.1").id == boot.admin.id)
    }

    @Test func tokensAreOpaqueHashedScopedAndRevocable() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (store, boot, _) = try Self.store(now: now)
        let (info, secret) = try store.createToken(name: "ci", for: boot.admin, role: .viewer, expiresAt: now.addingTimeInterval(3600), now: now)
        #expect(secret.hasPrefix("hth_") && secret.count == 36)
        #expect(info.prefix == String(secret.prefix(8)))
        // Only the digest is stored.
        let stored = try store.db.read { db in try String.fetchAll(db, sql: "SELECT digest FROM apiToken") }
        #expect(!stored.contains(secret))
        #expect(try store.authenticate(token: secret, now: now).role == .viewer)

        let expired = #expect(throws: HearthError.self) { try store.authenticate(token: secret, now: now.addingTimeInterval(3601)) }
        #expect(expired?.message == "this token has expired")

        let principal = try store.authenticate(token: secret, now: now)
        try store.revokeToken(id: info.id, by: principal, now: now)
        let revoked = #expect(throws: HearthError.self) { try store.authenticate(token: secret, now: now) }
        #expect(revoked?.message == "this token has been revoked")
        #expect(throws: HearthError.self) { try store.authenticate(token: "hth_" + String(repeating: "0", count: 32)) }
    }

    @Test func aTokenNeverOutranksItsUserAndOtherTenantsCannotSeeIt() throws {
        let (store, boot, token) = try Self.store()
        let acme = try store.createTenant(name: "acme")
        let member = try store.createUser(email: "Dev@Acme.test", tenantId: acme.id, role: .member, password: "correct horse")
        #expect(member.email == "dev@acme.test")
        #expect(throws: HearthError.self) { try store.createToken(name: "x", for: member, role: .admin) }
        let (info, _) = try store.createToken(name: "dev", for: member)
        _ = token
        // Another tenant's admin does not see it (the operator may revoke it: issue 14 #17).
        let other = try store.createTenant(name: "other")
        let boss = try store.createUser(email: "boss@other.test", tenantId: other.id, role: .admin, password: "correct horse")
        let (_, bossToken) = try store.createToken(name: "boss", for: boss)
        let admin = try store.authenticate(token: bossToken)
        let error = #expect(throws: HearthError.self) { try store.revokeToken(id: info.id, by: admin) }
        #expect(error?.code == .notFound)
        #expect(try store.tokens(tenantId: boot.tenant.id, userId: nil).allSatisfy { $0.tenant == "default" })
        #expect(try store.user(email: "dev@acme.test", tenantId: boot.tenant.id) == nil)
    }

    /// Issue 14 #10: failures back off per (account, address); the right password from another
    /// address is never refused, so nobody can lock the operator out by failing on purpose.
    @Test func failedSignInsBackOffPerAccountAndAddressWithoutLockingTheAccount() async throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (store, boot, _) = try Self.store(now: now)
        let password = try #require(boot.adminPassword)
        for _ in 0..<3 {
            await #expect(throws: HearthError.self) { try await store.signIn(email: "admin", password: "wrong", address: "10.0.0.1", now: now) }
        }
        // From the attacker's address, the next attempt waits, even with the right password.
        let limited = await #expect(throws: HearthError.self) {
            try await store.signIn(email: "admin", password: password, address: "10.0.0.1", now: now)
        }
        #expect(limited?.code == .rateLimited && limited?.detail == "retry-after=1")
        // From anywhere else the operator signs in at once.
        #expect(try await store.signIn(email: "admin", password: password, address: "10.0.0.2", now: now).id == boot.admin.id)
        // The wait doubles with each failure and ends: after it, the attacker's address may try again.
        await #expect(throws: HearthError.self) { try await store.signIn(email: "admin", password: "wrong", address: "10.0.0.1", now: now.addingTimeInterval(1)) }
        let longer = await #expect(throws: HearthError.self) {
            try await store.signIn(email: "admin", password: password, address: "10.0.0.1", now: now.addingTimeInterval(2))
        }
        #expect(longer?.detail == "retry-after=1")
        #expect(try await store.signIn(email: "admin", password: password, address: "10.0.0.1", now: now.addingTimeInterval(3.5)).id == boot.admin.id)
        // An unknown account fails the same way as a wrong password.
        let unknown = await #expect(throws: HearthError.self) {
            try await store.signIn(email: "nobody@acme.test", password: "x", address: "10.0.0.3", now: now)
        }
        #expect(unknown?.message == "wrong email or password")
    }

    @Test func oneAddressGuessingManyAccountsIsCapped() async throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (store, boot, _) = try Self.store(now: now)
        for i in 0..<20 {
            await #expect(throws: HearthError.self) { try await store.signIn(email: "u\(i)@x.test", password: "x", address: "10.9.9.9", now: now) }
        }
        let capped = await #expect(throws: HearthError.self) {
            try await store.signIn(email: "admin", password: boot.adminPassword ?? "", address: "10.9.9.9", now: now)
        }
        #expect(capped?.code == .rateLimited)
        #expect(try await store.signIn(email: "admin", password: boot.adminPassword ?? "", address: "10.9.9.8", now: now).email == "admin")
    }

    @Test func sessionsCarryACSRFTokenAndEnd() throws {
        let (store, boot, _) = try Self.store()
        let (secret, csrf) = try store.createSession(for: boot.admin)
        let principal = try store.authenticate(session: secret)
        guard case .session(let id, let expected) = principal.credential else { Issue.record("not a session"); return }
        #expect(expected == csrf)
        try store.endSession(id: id)
        #expect(throws: HearthError.self) { try store.authenticate(session: secret) }
    }
}
