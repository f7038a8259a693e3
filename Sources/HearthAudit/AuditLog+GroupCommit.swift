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
    /// Records nobody waits for, dropped because too many were waiting (`appendDetached`), or lost
    /// with a commit that failed.
    var dropped = 0
    /// How many waiting records nobody waits for (`appendDetached`).
    var detached = 0
    /// Who waits for the queue to empty (`settle`).
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// Told of detached records lost with a failed commit (the server logs them).
    var lossReporter: (@Sendable (_ count: Int, _ error: any Error) -> Void)?
    /// Transactions committed by `drain`.
    var commits = 0

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
        var admitted = true
        enqueue(AppendQueue.Waiting(record: record, time: now, continuation: nil)) { queue in
            guard queue.detached < AppendQueue.maxDetached else {
                queue.dropped &+= 1
                admitted = false
                return false
            }
            queue.detached += 1
            return true
        }
        return admitted
    }

    /// Returns once the queue is empty, every record queued before the call committed (or failed)
    /// and any queued meanwhile too: a server that stops calls it last, so records nobody waited
    /// for are not lost with the process.
    public func settle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = waiting.withLock { queue -> Bool in
                guard queue.draining else { return true }
                queue.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Sets who is told of detached records lost with a failed commit.
    public func setLossReporter(_ report: @escaping @Sendable (_ count: Int, _ error: any Error) -> Void) {
        waiting.withLock { $0.lossReporter = report }
    }

    /// Queues `item` if `admit` (run under the queue's lock) agrees, and starts a commit round
    /// unless one is under way.
    private func enqueue(_ item: AppendQueue.Waiting, admit: (inout AppendQueue) -> Bool = { _ in true }) {
        let start = waiting.withLock { queue -> Bool in
            guard admit(&queue) else { return false }
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
            let (group, idle): ([AppendQueue.Waiting], [CheckedContinuation<Void, Never>]) = waiting.withLock { queue in
                // Everything waiting goes in this round (bounded: `maxDetached` records nobody
                // waits for, and requests in flight), taken whole rather than shifted out.
                var taken: [AppendQueue.Waiting] = []
                swap(&taken, &queue.items)
                queue.detached -= taken.count(where: { $0.continuation == nil })
                guard taken.isEmpty else {
                    queue.commits &+= 1
                    return (taken, [])
                }
                queue.draining = false
                defer { queue.idleWaiters.removeAll() }
                return ([], queue.idleWaiters)
            }
            if group.isEmpty {
                idle.forEach { $0.resume() }
                return
            }
            do {
                let events = try appendBatch(group.map { ($0.record, $0.time) })
                for (item, event) in zip(group, events) { item.continuation?.resume(returning: event) }
            } catch {
                for item in group { item.continuation?.resume(throwing: error) }
                let lost = group.count(where: { $0.continuation == nil })
                if lost > 0 {
                    let reporter = waiting.withLock { queue in
                        queue.dropped &+= lost
                        return queue.lossReporter
                    }
                    reporter?(lost, error)
                }
            }
        }
    }
}
