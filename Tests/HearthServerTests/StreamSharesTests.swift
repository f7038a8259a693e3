@testable import HearthServer
import Testing

/// The port-events streams' shares: one user, or one tenant's many users, cannot hold every
/// stream of the server (the hostile review found the 256-stream cap had no per-credential share).
@Suite struct StreamSharesTests {
    @Test func aUserATenantAndTheServerEachHaveTheirLimit() {
        let shares = StreamShares(limit: 10, perTenant: 6, perUser: 3)
        let mallory = StreamShares.Holder(tenant: "t1", user: "mallory")
        for _ in 0..<3 { #expect(shares.acquire(mallory) == nil) }
        #expect(shares.acquire(mallory) == .user)
        // Her tenant's other users get the rest of the tenant's share, then stop.
        for n in 0..<3 { #expect(shares.acquire(.init(tenant: "t1", user: "sock\(n)")) == nil) }
        #expect(shares.acquire(.init(tenant: "t1", user: "sock9")) == .tenant)
        // Another tenant still gets in, up to the server's limit.
        for n in 0..<4 { #expect(shares.acquire(.init(tenant: "t2", user: "u\(n)")) == nil) }
        #expect(shares.acquire(.init(tenant: "t3", user: "u")) == .server)
        #expect(shares.count == 10)
    }

    @Test func releasingGivesTheShareBackAndARefusalTakesNothing() {
        let shares = StreamShares(limit: 4, perTenant: 4, perUser: 1)
        let alice = StreamShares.Holder(tenant: "t", user: "alice")
        #expect(shares.acquire(alice) == nil)
        for _ in 0..<100 { #expect(shares.acquire(alice) == .user) }
        #expect(shares.count == 1)
        shares.release(alice)
        #expect(shares.count == 0)
        #expect(shares.acquire(alice) == nil)
        // Releases beyond what was taken do not go negative or grant extra streams.
        for _ in 0..<5 { shares.release(alice) }
        #expect(shares.count == 0)
        #expect(shares.acquire(alice) == nil)
        #expect(shares.acquire(alice) == .user)
    }

    /// A user id containing the separator cannot pose as another tenant's user.
    @Test func holdersAreKeptApartByTenant() {
        let shares = StreamShares(limit: 10, perTenant: 10, perUser: 1)
        #expect(shares.acquire(.init(tenant: "a", user: "b")) == nil)
        #expect(shares.acquire(.init(tenant: "b", user: "b")) == nil)
        #expect(shares.acquire(.init(tenant: "a", user: "b")) == .user)
    }
}

/// A share is held by a lease the response body captures: a body that never runs (the client was
/// gone before the head was written) still gives its share back.
@Suite struct StreamLeaseTests {
    @Test func aLeaseDroppedUnusedGivesItsShareBack() throws {
        let shares = StreamShares(limit: 2, perTenant: 2, perUser: 1)
        let alice = StreamShares.Holder(tenant: "t", user: "alice")
        for _ in 0..<1_000 {
            var body: (() -> Void)? = { [lease = try? StreamLease(shares, alice)] in _ = lease }
            #expect(shares.count == 1)
            body = nil
            _ = body
            #expect(shares.count == 0)
        }
    }

    @Test func aRefusedLeaseTakesNothingAndSaysWhichLimit() throws {
        let shares = StreamShares(limit: 2, perTenant: 2, perUser: 1)
        let alice = StreamShares.Holder(tenant: "t", user: "alice")
        let held = try StreamLease(shares, alice)
        #expect(throws: StreamShares.Refused.self) { _ = try StreamLease(shares, alice) }
        do {
            _ = try StreamLease(shares, alice)
        } catch {
            #expect(error.limit == .user)
        }
        #expect(shares.count == 1)
        withExtendedLifetime(held) {}
    }
}
