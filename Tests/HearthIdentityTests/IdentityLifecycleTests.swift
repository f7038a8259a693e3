import Foundation
import GRDB
import HearthCore
import HearthIdentity
import Synchronization
import Testing

/// The user lifecycle (issue 14, "missing"): ending a user ends every credential they hold, at once.
@Suite struct IdentityLifecycleTests {
    static func store() throws -> (IdentityStore, IdentityStore.Bootstrap, Tenant, User) {
        var policy = IdentityStore.Policy()
        policy.bcryptCost = 4
        let store = try IdentityStore(db: try DatabaseQueue(), policy: policy)
        let boot = try store.bootstrap(adminToken: "hth_" + String(repeating: "cd", count: 16))
        let acme = try store.createTenant(name: "acme")
        let dev = try store.createUser(email: "dev@acme.test", tenantId: acme.id, role: .member, password: "correct horse")
        return (store, boot, acme, dev)
    }

    @Test func disablingAUserEndsTheirSessionsAndTokensAndSignIns() async throws {
        let (store, _, _, dev) = try Self.store()
        let (_, token) = try store.createToken(name: "ci", for: dev)
        let (session, _) = try store.createSession(for: dev)
        _ = try store.authenticate(token: token)   // now cached
        try store.setDisabled(dev, true)
        #expect(throws: HearthError.self) { try store.authenticate(token: token) }
        #expect(throws: HearthError.self) { try store.authenticate(session: session) }
        let refused = await #expect(throws: HearthError.self) {
            try await store.signIn(email: "dev@acme.test", password: "correct horse", address: "10.0.0.1")
        }
        #expect(refused?.message == "this account is disabled")
        // Enabling lets them sign in again; their old token stays revoked.
        try store.setDisabled(dev, false)
        #expect(try await store.signIn(email: "dev@acme.test", password: "correct horse", address: "10.0.0.1").id == dev.id)
        let revoked = #expect(throws: HearthError.self) { try store.authenticate(token: token) }
        #expect(revoked?.message == "this token has been revoked")
    }

    @Test func deletingAUserRemovesTheirCredentials() throws {
        let (store, _, acme, dev) = try Self.store()
        let (_, token) = try store.createToken(name: "ci", for: dev)
        let (session, _) = try store.createSession(for: dev)
        _ = try store.authenticate(token: token)
        try store.deleteUser(dev)
        #expect(throws: HearthError.self) { try store.authenticate(token: token) }
        #expect(throws: HearthError.self) { try store.authenticate(session: session) }
        #expect(try store.user(email: "dev@acme.test", tenantId: acme.id) == nil)
    }

    @Test func aDemotionTakesEffectOnCachedTokensAtOnce() throws {
        let (store, _, _, dev) = try Self.store()
        let (_, token) = try store.createToken(name: "ci", for: dev)
        #expect(try store.authenticate(token: token).role == .member)
        try store.setRole(dev, .viewer)
        #expect(try store.authenticate(token: token).role == .viewer)
    }

    @Test func theOperatorAccountCannotBeDisabledDeletedOrDemoted() throws {
        let (store, boot, _, _) = try Self.store()
        #expect(throws: HearthError.self) { try store.setDisabled(boot.admin, true) }
        #expect(throws: HearthError.self) { try store.deleteUser(boot.admin) }
        #expect(throws: HearthError.self) { try store.setRole(boot.admin, .member) }
    }

    @Test func aPasswordResetEndsSessionsAndAChangeNeedsTheCurrentPassword() async throws {
        let (store, _, _, dev) = try Self.store()
        let (session, _) = try store.createSession(for: dev)
        await #expect(throws: HearthError.self) { try await store.setPassword(dev, to: "a new password", current: "wrong") }
        _ = try store.authenticate(session: session)
        try await store.setPassword(dev, to: "a new password", current: "correct horse")
        #expect(throws: HearthError.self) { try store.authenticate(session: session) }
        #expect(try await store.signIn(email: "dev@acme.test", password: "a new password", address: "10.0.0.1").id == dev.id)
        #expect(try store.sessions(of: dev).isEmpty)
    }

    /// Issue 14 #17: the operator can create a token in any tenant, so it can revoke it too.
    @Test func theOperatorRevokesATokenInAnotherTenant() throws {
        let (store, _, _, dev) = try Self.store()
        let (info, token) = try store.createToken(name: "leaked", for: dev)
        let operatorPrincipal = try store.authenticate(token: "hth_" + String(repeating: "cd", count: 16))
        #expect(operatorPrincipal.isOperator)
        try store.revokeToken(id: info.id, by: operatorPrincipal)
        #expect(throws: HearthError.self) { try store.authenticate(token: token) }
    }

    /// Issue 14 #9: bcrypt runs on its own threads with a bounded queue; past it a sign-in is
    /// refused at once instead of queueing without end.
    @Test(.timeLimit(.minutes(3))) func theBcryptPoolRefusesWorkPastItsQueue() async throws {
        let pool = BcryptPool(threads: 1, maxQueued: 2)
        let gate = Shared(false)
        let started = Shared(0)
        // Occupy the thread, then the queue, with work that waits for the gate: first one job
        // until the thread holds it, then two more (queued together they could race the thread).
        let work: @Sendable () -> Bool = {
            started.value.withLock { $0 += 1 }
            while !gate.value.withLock({ $0 }) { usleep(1000) }
            return BcryptPool.isPoolThread
        }
        let deadline = ContinuousClock.now + .seconds(90)
        var tasks = [Task { try await pool.run(work) }]
        while started.value.withLock({ $0 }) < 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        tasks += (0..<2).map { _ in Task { try await pool.run(work) } }
        while pool.queued < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        guard pool.queued == 2 else {
            Issue.record("the pool never held two queued jobs")
            gate.value.withLock { $0 = true }
            return
        }
        var refusal: HearthError?
        do {
            _ = try await pool.run { true }
        } catch let error as HearthError {
            refusal = error
        }
        #expect(refusal?.code == .rateLimited)
        gate.value.withLock { $0 = true }
        for task in tasks { #expect(try await task.value, "the work ran on a bcrypt thread") }
    }
}

/// A mutex a test's tasks can share.
final class Shared<T: Sendable>: Sendable {
    let value: Mutex<T>
    init(_ initial: T) { value = Mutex(initial) }
}
