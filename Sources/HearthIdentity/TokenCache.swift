import Foundation
import Synchronization

/// Principals of recently seen API tokens, for a few seconds, so a busy client does not cost three
/// database reads per request. A revocation empties it at once; an expiry is checked on every hit.
final class TokenCache: Sendable {
    struct Entry: Sendable {
        var principal: Principal
        var expiresAt: Date?
        var cachedAt: Date
    }

    static let lifetime: TimeInterval = 10
    static let capacity = 4096
    /// Bumped by every invalidation; a lookup that began before one must not store its result.
    private let entries = Mutex<(all: [String: Entry], generation: Int)>(([:], 0))

    var generation: Int { entries.withLock { $0.generation } }

    func principal(digest: String, now: Date) -> Principal? {
        entries.withLock { state in
            guard let entry = state.all[digest] else { return nil }
            guard now.timeIntervalSince(entry.cachedAt) < Self.lifetime, entry.expiresAt.map({ $0 > now }) ?? true else {
                state.all[digest] = nil
                return nil
            }
            return entry.principal
        }
    }

    func store(_ principal: Principal, digest: String, expiresAt: Date?, now: Date, lookedUpAt generation: Int) {
        entries.withLock { state in
            guard state.generation == generation else { return }
            if state.all.count >= Self.capacity { state.all.removeAll(keepingCapacity: true) }
            state.all[digest] = Entry(principal: principal, expiresAt: expiresAt, cachedAt: now)
        }
    }

    func removeAll() {
        entries.withLock { state in
            state.all.removeAll()
            state.generation += 1
        }
    }
}
