public import Foundation
public import HearthCore
import Logging
public import HearthRuntime

/// What the server does at start-up with the sandboxes an earlier run left behind.
extension WorkspaceManager {
    public struct ReconcileReport: Sendable, Equatable {
        public var adopted: [String] = []
        public var markedStopped: [String] = []
        public var removed: [String] = []
        public var failed: [String] = []
    }

    /// Re-adopts running sandboxes, marks lost ones stopped, finishes interrupted deletes and
    /// drops pooled sandboxes (the pool refills). Leaves no sandbox without a row or a row without a truth.
    public func reconcile() async -> ReconcileReport {
        var report = ReconcileReport()
        for record in (try? store.all(includePooled: true)) ?? [] {
            guard let runtime = try? registry.existing(record.runtime) else {
                if record.state != .stopped { _ = try? store.apply(.adoptLost, to: record.id) }
                report.markedStopped.append(record.id)
                continue
            }
            let spec = spec(record)
            if record.pooled || record.state == .deleting {
                try? await runtime.destroy(spec)
                if record.state == .deleting, let volumes = configuration.volumes {
                    // The row goes only once the workspace's key is shredded: dropping it after a
                    // failed delete would leave the key record, and the data readable, for ever.
                    do {
                        try await volumes.delete(workspace: record.id)
                    } catch {
                        logger.error("workspace delete still unfinished: its key could not be shredded",
                                     metadata: ["workspace.id": "\(record.id)", "error": "\(error)"])
                        continue
                    }
                }
                try? store.delete(record.id)
                report.removed.append(record.id)
                continue
            }
            let status = await runtime.status(spec)
            switch (record.state, status) {
            case (.stopped, _), (.failed, _):
                if status == .running { try? await runtime.stop(spec, grace: .seconds(1)) }
            case (.paused, .paused), (.pausing, .paused):
                if record.state == .pausing { _ = try? store.apply(.adoptLost, to: record.id) }
            case (_, .running):
                do {
                    // A crash during a create or a pool claim can leave a running sandbox without
                    // its volume (made while the sandbox booted, or after the claim): make it now,
                    // idempotently. A create must have it; for the others a store that is down now
                    // should not fail a running workspace, and its next commit tries again.
                    if record.state == .creating {
                        try await createVolume(id: record.id, tenantId: record.tenantId)
                    } else {
                        try? await ensureVolume(id: record.id, tenantId: record.tenantId)
                    }
                    let agent = try await runtime.reconnect(spec)
                    adopt(agent, for: record.id)
                    // This server has not seen it used: its idle time starts now, not at its last start.
                    activity.note(record.id)
                    if record.state != .running { _ = try store.apply(.adoptRunning, to: record.id) }
                    report.adopted.append(record.id)
                } catch {
                    try? await runtime.stop(spec, grace: .seconds(1))
                    _ = try? store.apply(.fail, to: record.id, failure: "the workspace could not be re-adopted after a restart")
                    report.failed.append(record.id)
                }
            case (.creating, _) where record.failure == Self.forkInterrupted:
                try? await runtime.stop(spec, grace: .zero)
                _ = try? store.apply(.fail, to: record.id, failure: Self.forkInterrupted)
                report.failed.append(record.id)
            default:
                if record.state != .stopped {
                    try? await runtime.stop(spec, grace: .zero)
                    _ = try? store.apply(.adoptLost, to: record.id)
                    report.markedStopped.append(record.id)
                }
            }
        }
        logger.info("reconciled workspaces", metadata: [
            "reconcile.adopted": "\(report.adopted.count)", "reconcile.stopped": "\(report.markedStopped.count)",
            "reconcile.removed": "\(report.removed.count)", "reconcile.failed": "\(report.failed.count)",
        ])
        return report
    }

    /// Closes every agent channel. Sandboxes keep running; the next server re-adopts them.
    public func detachAll() {
        for (_, agent) in agents { agent.close() }
        agents.removeAll()
    }
}
