public import Foundation
import Synchronization

/// When each workspace was last used (issue 16's idle timeout): an API call that reached its
/// agent, terminal input, a preview request. Outside the manager's actor so that a keystroke costs
/// a lock, not an actor hop. Entries of workspaces that are gone are dropped with them.
public final class WorkspaceActivity: Sendable {
    private let last = Mutex<[String: Date]>([:])
    /// Work under way that a user started (an exec, a tunnel): a workspace with any is not idle.
    private let open = Mutex<[String: Int]>([:])

    public init() {}

    /// Notes use of workspace `id` at `now`. Never moves a workspace's time backwards.
    public func note(_ id: String, at now: Date = Date()) {
        last.withLock { table in
            if let seen = table[id], seen >= now { return }
            table[id] = now
        }
    }

    public func lastUse(of id: String) -> Date? { last.withLock { $0[id] } }

    /// Whether work a user started is still under way in workspace `id`.
    public func inUse(_ id: String) -> Bool { open.withLock { ($0[id] ?? 0) > 0 } }

    func begin(_ id: String) {
        note(id)
        open.withLock { $0[id, default: 0] &+= 1 }
    }

    func end(_ id: String) {
        note(id)
        open.withLock { table in
            let left = (table[id] ?? 1) - 1
            table[id] = left > 0 ? left : nil
        }
    }

    func forget(_ id: String) { _ = last.withLock { $0.removeValue(forKey: id) } }

    /// Drops entries of workspaces not in `ids` (deleted ones, ids a late request noted again).
    func keepOnly(_ ids: Set<String>) {
        last.withLock { table in table = table.filter { ids.contains($0.key) } }
    }
}

/// One piece of work under way in a workspace (an exec, a tunnel), from its start until it is
/// closed or released, whichever comes first: the workspace is not idle meanwhile.
package final class WorkspaceUse: Sendable {
    let id: String
    let activity: WorkspaceActivity
    private let ended = Mutex(false)

    init(_ id: String, _ activity: WorkspaceActivity) {
        self.id = id
        self.activity = activity
        activity.begin(id)
    }

    func end() {
        guard !ended.withLock({ ended in defer { ended = true }; return ended }) else { return }
        activity.end(id)
    }

    deinit { end() }
}
