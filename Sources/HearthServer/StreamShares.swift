import Synchronization

/// Open long-lived streams of one kind, bounded for the server and shared out: one tenant holds at
/// most `perTenant`, one user at most `perUser`, so one credential (or one tenant's many) cannot
/// hold every stream and lock everyone else out.
final class StreamShares: Sendable {
    struct Holder: Hashable, Sendable {
        var tenant: String
        var user: String
    }

    enum Refusal: String, Sendable { case server, tenant, user }

    let limit: Int
    let perTenant: Int
    let perUser: Int
    private struct Counts {
        var total = 0
        var tenants: [String: Int] = [:]
        var users: [String: Int] = [:]
    }
    private let counts = Mutex(Counts())

    init(limit: Int, perTenant: Int, perUser: Int) {
        self.limit = limit
        self.perTenant = perTenant
        self.perUser = perUser
    }

    /// Takes one stream for `holder`, or says which limit refused it (and takes nothing).
    func acquire(_ holder: Holder) -> Refusal? {
        counts.withLock { counts in
            if counts.total >= limit { return .server }
            if counts.tenants[holder.tenant, default: 0] >= perTenant { return .tenant }
            let userKey = holder.tenant + "\u{0}" + holder.user
            if counts.users[userKey, default: 0] >= perUser { return .user }
            counts.total &+= 1
            counts.tenants[holder.tenant, default: 0] &+= 1
            counts.users[userKey, default: 0] &+= 1
            return nil
        }
    }

    func release(_ holder: Holder) {
        counts.withLock { counts in
            counts.total = max(0, counts.total &- 1)
            Self.decrement(&counts.tenants, holder.tenant)
            Self.decrement(&counts.users, holder.tenant + "\u{0}" + holder.user)
        }
    }

    var count: Int { counts.withLock { $0.total } }

    /// Keys at zero are dropped, so the maps hold only holders with open streams.
    private static func decrement(_ map: inout [String: Int], _ key: String) {
        let next = map[key, default: 0] &- 1
        map[key] = next > 0 ? next : nil
    }
}

/// One stream's share, given back when the last reference goes. The response body closure holds
/// it: if the client is gone before the body runs (Hummingbird writes the head first, and a closed
/// channel fails that), the closure is dropped unrun and the share still comes back; a `defer`
/// inside the body would never have run and the slot would be lost for good.
final class StreamLease: Sendable {
    let shares: StreamShares
    let holder: StreamShares.Holder

    /// Takes a share for `holder`, or throws the refusal as a 429.
    init(_ shares: StreamShares, _ holder: StreamShares.Holder) throws(StreamShares.Refused) {
        if let refusal = shares.acquire(holder) { throw StreamShares.Refused(limit: refusal) }
        self.shares = shares
        self.holder = holder
    }

    deinit { shares.release(holder) }
}

extension StreamShares {
    struct Refused: Error {
        var limit: Refusal
    }
}
