import Dispatch
public import Foundation
import HearthCore
import Synchronization

/// Appends from async code, committed in groups. Each event is synced before its caller goes on
/// (synchronous FULL), and a sync costs about 4 ms here: one at a time, a member looping an audited
/// action would make every tenant's audited requests queue behind theirs. Appends that arrive while
/// a commit is under way are written together in the next one, with one sync: the log keeps up with
/// any rate of appends at the cost of one sync per round, and no cooperative thread ever waits on
/// the disk (the commits run on a serial queue of their own).
struct AppendQueue: Sendable {
    struct Waiting: Sendable {
        var record: AuditRecord
        var time: Date
        /// Nil for a record nobody waits for (`appendDetached`).
        var continuation: CheckedContinuation<AuditEvent, any Error>?
    }

    var items: [Waiting] = []
    /// Whether a commit round is scheduled or running.
    var draining = false
    /// Records nobody waits for, dropped because too many were waiting (`appendDetached`).
    var dropped = 0
    /// Transactions committed by `drain`.
    var commits = 0

    /// The most events one transaction writes.
    static let maxBatch = 512
    /// The most records nobody waits for that may wait (each caller who waits is a request in
    /// flight, bounded elsewhere; these are not).
    static let maxDetached = 10_000
}

extension AuditLog {
    /// Appends `record` and returns once it is synced, with the events appended alongside it.
    public func appendOffPool(_ record: AuditRecord, now: Date = Date()) async throws -> AuditEvent {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(AppendQueue.Waiting(record: record, time: now, continuation: continuation))
        }
    }

    /// Appends `record` without waiting for it (callers that must not block, such as an actor
    /// reporting a sampled network denial). Returns false, recording nothing, when more than
    /// `AppendQueue.maxDetached` such records are already waiting.
    @discardableResult
    public func appendDetached(_ record: AuditRecord, now: Date = Date()) -> Bool {
        let admitted = waiting.withLock { queue -> Bool in
            guard queue.items.count(where: { $0.continuation == nil }) < AppendQueue.maxDetached else {
                queue.dropped &+= 1
                return false
            }
            return true
        }
        if admitted { enqueue(AppendQueue.Waiting(record: record, time: now, continuation: nil)) }
        return admitted
    }

    private func enqueue(_ item: AppendQueue.Waiting) {
        let start = waiting.withLock { queue -> Bool in
            queue.items.append(item)
            guard !queue.draining else { return false }
            queue.draining = true
            return true
        }
        if start { Self.commitQueue.async { self.drain() } }
    }

    private static let commitQueue = DispatchQueue(label: "hearth.audit.commit")

    /// How many group commits have run, and how many detached records were dropped.
    public var groupCommitStatistics: (commits: Int, dropped: Int) { waiting.withLock { ($0.commits, $0.dropped) } }

    /// Commits what waits, a group at a time, until nothing does.
    private func drain() {
        while true {
            let group: [AppendQueue.Waiting] = waiting.withLock { queue in
                let taken = Array(queue.items.prefix(AppendQueue.maxBatch))
                queue.items.removeFirst(taken.count)
                if taken.isEmpty { queue.draining = false }
                return taken
            }
            if group.isEmpty { return }
            waiting.withLock { $0.commits &+= 1 }
            do {
                let events = try appendBatch(group.map { ($0.record, $0.time) })
                for (item, event) in zip(group, events) { item.continuation?.resume(returning: event) }
            } catch {
                for item in group { item.continuation?.resume(throwing: error) }
            }
        }
    }
}
