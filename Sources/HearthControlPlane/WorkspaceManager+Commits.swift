import Foundation
public import HearthCore
import HearthRuntime
import HearthWire
import Logging

/// Commits of a workspace's state to the server's store (issue 16): on an interval, on pause and
/// stop, and on `sync`. What is committed is the runtime's changed layer (gVisor: the overlay's
/// upper directory); the store walks it without following any link the guest made.
extension WorkspaceManager {
    /// `POST /v1/workspaces/{ws}/sync`: returns once everything the workspace wrote before the call
    /// is in a generation in the store. A workspace in the middle of a lifecycle change is busy.
    func sync(_ ref: String) async throws -> WorkspaceCommit {
        let record = try record(ref)
        guard configuration.volumes != nil else {
            throw HearthError(.storeUnavailable, "this server keeps no durable store")
        }
        if let current = busy[record.id] { throw HearthError(.conflict, "the workspace is busy \(current)") }
        if record.state == .running { await flushGuestWrites(record.id) }
        guard let commit = try await commit(record, trigger: .sync) else {
            throw HearthError(.conflict, "the workspace has no state to commit yet")
        }
        return commit
    }

    /// The workspace's generations, oldest first.
    func generations(_ ref: String) async throws -> [WorkspaceGeneration] {
        let record = try record(ref)
        guard let volumes = configuration.volumes else { throw HearthError(.storeUnavailable, "this server keeps no durable store") }
        return try await volumes.generations(workspace: record.id, tenant: record.tenantId)
    }

    /// One periodic round: every running workspace not in a lifecycle change. A failure is logged
    /// and counted, and the next round tries again.
    public func commitRunning() async {
        guard configuration.volumes != nil, let running = try? store.all().filter({ $0.state == .running && !$0.pooled }) else { return }
        for record in running where busy[record.id] == nil {
            if Task.isCancelled { return }
            await flushGuestWrites(record.id)
            _ = try? await commit(record, trigger: .interval)
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
    /// writes them through to the layer the host reads. Bounded, and a guest that breaks its own
    /// `sync` only loses its own durability.
    func flushGuestWrites(_ id: String) async {
        guard let stream = try? await openStream(id, .exec(ExecRequest(argv: ["/bin/sync"], cwd: "/", timeoutMs: 10_000))) else { return }
        defer { stream.close() }
        while let event = try? await stream.next() {
            if case .control(.exited) = event { return }
        }
    }

    @discardableResult
    func commit(_ record: WorkspaceRecord, trigger: CommitTrigger) async throws -> WorkspaceCommit? {
        guard let volumes = configuration.volumes else { return nil }
        let runtime = try registry.existing(record.runtime)
        let started = ContinuousClock.now
        do {
            let commit = try await runtime.withChangedLayer(spec(record)) { layer in
                try await volumes.commit(workspace: record.id, tenant: record.tenantId, layer: layer, trigger: trigger)
            }
            if let commit {
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
