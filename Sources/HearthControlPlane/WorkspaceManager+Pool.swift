public import Foundation
public import HearthCore
import Logging
public import HearthImages
public import HearthRuntime
public import HearthWire
public import ServiceLifecycle

/// The warm pool: running sandboxes of the default image, runtime and limits, held as workspace
/// rows marked `pooled`. A create that matches them claims one by renaming the row; nothing boots.
extension WorkspaceManager {
    func claimPooled(_ request: CreateWorkspace, runtime: RuntimeKind, limits: ResourceLimits) async throws -> Workspace? {
        guard configuration.warmPoolSize > 0, runtime == registry.defaultRuntime, limits == configuration.defaultLimits,
              (request.image ?? ImageStore.baseReference) == ImageStore.baseReference else { return nil }
        if var record = try claimable().first(where: { $0.runtime == runtime }) {
            record.pooled = false
            record.tenantId = request.tenantId
            record.name = request.name ?? Self.defaultName(for: record.id)
            record.createdAt = Date()
            record.updatedAt = record.createdAt
            try store.update(record)
            // A pooled sandbox has no tenant, so its key and volume are made when it is claimed.
            try await createVolume(id: record.id, tenantId: request.tenantId)
            poolSignal.continuation.yield()
            metrics.poolClaim(hit: true, runtime: runtime)
            return record.workspace
        }
        poolSignal.continuation.yield()
        metrics.poolClaim(hit: false, runtime: runtime)
        return nil
    }

    /// Boots pooled sandboxes until the pool is full. Called by `WarmPoolService`.
    public func fillPool() async {
        guard configuration.warmPoolSize > 0, let kind = registry.defaultRuntime else { return }
        while !Task.isCancelled {
            let pooled = ((try? store.all(includePooled: true)) ?? []).filter { $0.pooled && $0.state != .failed }
            if pooled.count >= configuration.warmPoolSize { return }
            do {
                let image = try await images.base()
                let id = Workspace.newID()
                let now = Date()
                let limits = configuration.defaultLimits
                let record = WorkspaceRecord(id: id, tenantId: "", name: id, runtime: kind, image: image.id, imageRootfs: image.rootfs,
                                             state: .creating, cpus: limits.cpus, memoryMiB: limits.memoryMiB, diskMiB: limits.diskMiB, pooled: true,
                                             failure: nil, createdAt: now, updatedAt: now)
                try store.insert(record)
                _ = try await withBusy(id, "warming") {
                    let workspace = try await boot(record, event: .created)
                    await warmExec(id)
                    return workspace
                }
            } catch {
                logger.warning("warm pool could not boot a sandbox", metadata: ["runtime": "\(kind.rawValue)", "error": "\(error)"])
                metrics.failure(.poolBootFailed, runtime: kind)
                for failed in ((try? store.all(includePooled: true)) ?? []) where failed.pooled && failed.state == .failed {
                    try? await delete(failed.id)
                }
                return
            }
        }
    }

    /// A sandbox's first exec runs code paths gVisor has not run yet and costs about 8 ms more than
    /// the next; a pooled sandbox pays that before a user claims it. A failure here is the next
    /// exec's to report, so it is ignored.
    private func warmExec(_ id: String) async {
        guard let stream = try? await openStream(id, .exec(ExecRequest(argv: ["/bin/true"], cwd: "/", timeoutMs: 10_000))) else { return }
        defer { stream.close() }
        while let event = try? await stream.next() {
            if case .control(.exited) = event { return }
        }
    }

    var poolSignals: AsyncStream<Void> { poolSignal.stream }

    /// Ids of the pooled sandboxes a create could claim right now.
    public func warmPoolReady() -> [String] {
        ((try? claimable()) ?? []).map(\.id)
    }

    /// Pooled sandboxes that are running, idle and connected.
    private func claimable() throws -> [WorkspaceRecord] {
        try store.all(includePooled: true).filter { record in
            record.pooled && record.state == .running && busy[record.id] == nil && agents[record.id].map { !$0.isClosed } == true
        }
    }
}

/// Keeps the warm pool full for the life of the server.
public struct WarmPoolService: Service {
    let manager: WorkspaceManager

    public init(manager: WorkspaceManager) { self.manager = manager }

    public func run() async throws {
        let signals = await manager.poolSignals
        await manager.fillPool()
        await cancelWhenGracefulShutdown {
            for await _ in signals { await manager.fillPool() }
        }
    }
}
