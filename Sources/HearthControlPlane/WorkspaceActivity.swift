public import Foundation
import Synchronization

/// When each workspace was last used (issue 16's idle timeout): an API call that reached its
/// agent, terminal input, a preview request. Outside the manager's actor so that a keystroke costs
/// a lock, not an actor hop. Entries of workspaces that are gone are dropped with them.
public final class WorkspaceActivity: Sendable {
    private let last = Mutex<[String: Date]>([:])

    public init() {}

    /// Notes use of workspace `id` at `now`. Never moves a workspace's time backwards.
    public func note(_ id: String, at now: Date = Date()) {
        last.withLock { table in
            if let seen = table[id], seen >= now { return }
            table[id] = now
        }
    }

    public func lastUse(of id: String) -> Date? { last.withLock { $0[id] } }

    func forget(_ id: String) { _ = last.withLock { $0.removeValue(forKey: id) } }
}
