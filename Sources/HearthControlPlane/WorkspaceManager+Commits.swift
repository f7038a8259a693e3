public import Foundation
public import HearthCore
import HearthRuntime
import HearthWire
import Logging
import Synchronization

/// Commits of a workspace's state to the server's store (issue 16): on an interval, on pause and
/// stop, and on `sync`. What is committed is the runtime's changed layer (gVisor: the overlay's
/// upper directory); the store walks it without following any link the guest made.
extension WorkspaceManager {
    /// `POST /v1/workspaces/{ws}/sync`: returns once everything the workspace wrote before the call
    /// is in a generation in the store. A workspace in the middle of a lifecycle change is busy.
    func sync(_ ref: String, trigger: CommitTrigger = .sync) async throws -> WorkspaceCommit {
        let record = try record(ref)
        _ = try durableVolumes()
        // Another commit in progress is waited for; a lifecycle change in progress is a conflict.
        return try await withBusy(record.id, Self.committing) {
            let current = try self.record(record.id)
            // Only a workspace that is settled has a state to commit. A `deleting` or `failed` one
            // may have had its key shredded already, and a commit makes a missing volume.
            guard [.running, .paused, .stopped].contains(current.state) else {
                throw HearthError(.conflict, "the workspace is \(current.state.rawValue): there is nothing to sync")
            }
            if current.state == .running { await flushGuestWrites(current.id) }
            guard let commit = try await commit(current, trigger: trigger) else {
                throw HearthError(.conflict, "the workspace has no state to commit yet")
            }
            return commit
        }
    }

    /// Puts a stopped workspace's whole state back as generation `generation` holds it, and
    /// commits that as the new head: history is never rewritten, so a rollback can be rolled back.
    /// A failure before the swap leaves the workspace as it was.
    func rollback(_ ref: String, to generation: UInt64) async throws -> WorkspaceCommit {
        guard let commit = try await rollbackLayer(ref, to: generation) else {
            // The workspace holds the rolled-back state; only its commit is missing (the next one carries it).
            throw HearthError(.storeUnavailable, "the workspace was rolled back to generation \(generation), but that state is not committed yet")
        }
        return commit
    }

    /// The rollback itself: throws when nothing was changed; nil when the layer was swapped but
    /// its commit failed (logged).
    func rollbackLayer(_ ref: String, to generation: UInt64) async throws -> WorkspaceCommit? {
        let record = try record(ref)
        let volumes = try durableVolumes()
        return try await withBusy(record.id, "rolling back") {
            let current = try self.record(record.id)
            // A failed workspace too: its own state may be why it fails to start.
            guard [.stopped, .failed].contains(current.state) else {
                throw HearthError(.conflict, "stop the workspace before rolling it back: it is \(current.state.rawValue)")
            }
            let runtime = try registry.existing(current.runtime)
            if current.state == .failed { try await runtime.stop(spec(current), grace: .zero) }
            try await runtime.replaceChangedLayer(spec(current)) { directory in
                try await volumes.restore(workspace: current.id, tenant: current.tenantId, generation: generation, into: directory)
            }
            logger.info("workspace rolled back", metadata: ["workspace.id": "\(current.id)", "rollback.generation": "\(generation)"])
            do {
                return try await commit(current, trigger: .rollback)
            } catch {
                logger.warning("rolled-back state not committed", metadata: ["workspace.id": "\(current.id)", "error": "\(error)"])
                return nil
            }
        }
    }

    /// The workspace's generations, oldest first.
    func generations(_ ref: String) async throws -> [WorkspaceGeneration] {
        let record = try record(ref)
        return try await durableVolumes().generations(workspace: record.id, tenant: record.tenantId)
    }

    /// Entries listed, or paths compared, in one answer; and the largest file read back whole.
    static let listedEntries = 10_000
    static let readableBytes = 16 << 20

    func durableVolumes() throws -> any WorkspaceVolumes {
        guard let volumes = configuration.volumes else { throw HearthError(.storeUnavailable, "this server keeps no durable store") }
        return volumes
    }

    static let committing = "committing"
    /// Workspaces committed at once by the interval's round.
    static let intervalConcurrency = 2

    /// Commits every running workspace now (what one round would do if every one were due).
    public func commitRunning() async {
        await commitEach(committable())
    }

    /// Running workspaces with a volume (not pooled), on a server with a store.
    private func committable() -> [WorkspaceRecord] {
        guard configuration.volumes != nil else { return [] }
        return (try? store.all().filter { $0.state == .running && !$0.pooled }) ?? []
    }

    /// One tick of `WorkspaceCommitService`: the running workspaces whose interval (their own, or
    /// the server's) has passed since their last durable state or last attempt.
    public func commitDue(now: Date = Date()) async {
        let due = committable().filter { record in
            let seconds = record.commitIntervalSeconds.map { $0 > 0 ? Duration.seconds($0) : nil } ?? configuration.defaultCommitInterval
            guard let seconds else { return false }
            let since = [record.durableAt, lastCommitAttempt[record.id]].compactMap { $0 }.max() ?? record.createdAt
            return now.timeIntervalSince(since) >= Double(seconds.components.seconds)
        }
        for record in due { lastCommitAttempt[record.id] = now }
        await commitEach(due)
    }

    /// A few at a time; a failure is logged and counted, and the workspace is tried again when it
    /// is next due.
    private func commitEach(_ running: [WorkspaceRecord]) async {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for record in running {
                if Task.isCancelled { break }
                if inFlight >= Self.intervalConcurrency { await group.next(); inFlight -= 1 }
                group.addTask { await self.intervalCommit(record.id) }
                inFlight += 1
            }
        }
    }

    private func intervalCommit(_ id: String) async {
        guard busy[id] == nil else { return }
        _ = try? await withBusy(id, Self.committing) {
            let record = try self.record(id)
            guard record.state == .running else { return }
            await flushGuestWrites(id)
            try await commit(record, trigger: .interval)
        }
    }

    /// Inside a pause or stop, after the runtime has frozen or stopped the sandbox: its layer
    /// holds still. A failure does not undo the pause or stop; it is logged, and the next commit
    /// (sync, resume's interval) carries the state.
    func commitAfter(_ record: WorkspaceRecord, trigger: CommitTrigger) async {
        guard !record.pooled else { return }
        _ = try? await commit(record, trigger: trigger)
    }

    /// gVisor's sentry keeps written file pages in its own cache; a `sync` inside the workspace
    /// writes them through to the layer the host reads. The deadline is the server's own (the
    /// exec's timeout is the guest agent's, which a hostile guest can stop): a guest that breaks
    /// its own `sync` loses only its own durability, and holds no one's commits.
    ///
    /// Not a task group: a group waits for its children, and a write to an agent that stopped
    /// reading cannot be cancelled. The flush is left to end with its stream or its agent's
    /// connection (a stop or delete closes it); the commit goes on at the deadline.
    func flushGuestWrites(_ id: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = ResumeOnce(continuation)
            let flush = Task {
                defer { once.resume() }
                guard let stream = try? await self.openStream(id, .exec(ExecRequest(argv: ["/bin/sync"], cwd: "/", timeoutMs: 10_000))) else { return }
                defer { stream.close() }
                while let event = try? await stream.next() {
                    if case .control(.exited) = event { return }
                }
            }
            Task {
                try? await Task.sleep(for: Self.flushDeadline)
                flush.cancel()
                once.resume()
            }
        }
    }

    static let flushDeadline = Duration.seconds(15)

    @discardableResult
    func commit(_ record: WorkspaceRecord, trigger: CommitTrigger) async throws -> WorkspaceCommit? {
        guard let volumes = configuration.volumes else { return nil }
        let runtime = try registry.existing(record.runtime)
        let started = ContinuousClock.now
        let startedAt = Date()
        do {
            // File contents are bounded by twice the workspace's disk (16 GiB when it has none of
            // its own), counted at logical size, so sparse files cannot multiply the work.
            let (budget, overflow) = UInt64(max(1, record.diskMiB ?? 16_384)).multipliedReportingOverflow(by: 2 << 20)
            let commit = try await runtime.withChangedLayer(spec(record)) { layer in
                try await volumes.commit(workspace: record.id, tenant: record.tenantId, layer: layer, trigger: trigger, maxBytes: overflow ? .max : budget)
            }
            if let commit {
                // The state as of the commit's start is in this generation, changed or not.
                try? store.recordDurable(record.id, generation: commit.generation, at: startedAt)
                metrics.commit(trigger: trigger, result: commit.published ? "published" : "unchanged", seconds: commit.seconds, bytesAdded: commit.bytesAdded)
                if commit.published {
                    logger.info("workspace committed", metadata: [
                        "workspace.id": "\(record.id)", "commit.trigger": "\(trigger.rawValue)", "commit.generation": "\(commit.generation)",
                        "commit.files_read": "\(commit.filesRead)", "commit.bytes_added": "\(commit.bytesAdded)",
                        "commit.seconds": "\(String(format: "%.3f", commit.seconds))"])
                }
            }
            return commit
        } catch {
            let elapsed = ContinuousClock.now - started
            metrics.commit(trigger: trigger, result: "error", seconds: Double(elapsed.components.seconds), bytesAdded: 0)
            logger.warning("workspace commit failed", metadata: [
                "workspace.id": "\(record.id)", "commit.trigger": "\(trigger.rawValue)", "error": "\(error)"])
            throw error
        }
    }
}

/// Resumes a continuation once, whichever of several callers comes first.
final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Void, Never>?>
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = Mutex(continuation) }
    func resume() { continuation.withLock { c in c.take() }?.resume() }
}
