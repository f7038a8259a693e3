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
            let claimed = record
            // A pooled sandbox has no tenant, so its key and volume are made once it is claimed: by
            // `WarmPoolService`, after this create has answered (a few synced writes the user need
            // not wait for). Until then the workspace is busy `claiming`, which every lifecycle
            // operation, commit and delete waits out; exec and files need no volume. Marked
            // before the row is the tenant's, with no suspension since `claimable`.
            let needsVolume = configuration.volumes != nil
            if needsVolume { busy[claimed.id] = Self.claiming }
            do {
                try store.update(claimed)
            } catch {
                if needsVolume { releaseBusy(claimed.id) }
                throw error
            }
            if needsVolume {
                pendingClaims.append(PendingClaim(record: claimed))
                claimSignal.continuation.yield()
            }
            poolSignal.continuation.yield()
            metrics.poolClaim(hit: true, runtime: runtime)
            return claimed.workspace
        }
        poolSignal.continuation.yield()
        metrics.poolClaim(hit: false, runtime: runtime)
        return nil
    }

    /// Boots pooled sandboxes until the pool is full. Called by `WarmPoolService`.
    public func fillPool() async {
        guard configuration.warmPoolSize > 0, let kind = registry.defaultRuntime else { return }
        while !Task.isCancelled {
            let pooled = ((try? store.pooled()) ?? []).filter { $0.state != .failed }
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
    /// the next; a pooled sandbox pays that before a user claims it. It is an exec as users send
    /// them (a bare name looked up in `PATH`, the default working directory), so the lookups a
    /// user's first exec makes are warm too. A failure here is the next exec's to report, so it is
    /// ignored.
    private func warmExec(_ id: String) async {
        guard let stream = try? await openStream(id, .exec(ExecRequest(argv: ["true"], timeoutMs: 10_000))) else { return }
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

    /// Makes the volumes of claimed sandboxes (see `claimPooled`). A claim whose volume cannot be
    /// made fails: its row is marked failed and its sandbox goes. One left unfinished by a shutdown
    /// gets its volume when the next server re-adopts it (`reconcile`).
    public func finishClaims() async {
        while !pendingClaims.isEmpty, !Task.isCancelled {
            // First in, first out; short: each claim took a pooled sandbox, and the pool refills
            // one boot at a time.
            let claim = pendingClaims.removeFirst()
            do {
                try await ensureVolume(id: claim.record.id, tenantId: claim.record.tenantId)
            } catch where Task.isCancelled {
                // The server is shutting down: the workspace keeps running, and the next server
                // makes its volume when it re-adopts it. Not a failure of the workspace.
            } catch {
                _ = failVolume(claim.record.id, error)
                agents.removeValue(forKey: claim.record.id)?.close()
                try? await (try? registry.existing(claim.record.runtime))?.stop(spec(claim.record), grace: .zero)
                metrics.failure(.poolBootFailed, runtime: claim.record.runtime)
            }
            releaseBusy(claim.record.id)
        }
    }

    /// At shutdown: claims whose volumes were not made are left to the next server's
    /// reconciliation, and whatever waits on them goes on.
    public func abandonClaims() {
        for claim in pendingClaims { releaseBusy(claim.record.id) }
        pendingClaims.removeAll()
    }

    var claimSignals: AsyncStream<Void> { claimSignal.stream }

    /// Pooled sandboxes that are running, idle and connected.
    private func claimable() throws -> [WorkspaceRecord] {
        try store.pooled().filter { record in
            record.state == .running && busy[record.id] == nil && agents[record.id].map { !$0.isClosed } == true
        }
    }
}

/// Keeps the warm pool full for the life of the server.
public struct WarmPoolService: Service {
    let manager: WorkspaceManager

    public init(manager: WorkspaceManager) { self.manager = manager }

    public func run() async throws {
        let signals = await manager.poolSignals
        let claims = await manager.claimSignals
        await cancelWhenGracefulShutdown {
            // Two loops, so a claim's volume never waits behind a sandbox the pool is booting.
            await withDiscardingTaskGroup { group in
                group.addTask {
                    await manager.fillPool()
                    for await _ in signals { await manager.fillPool() }
                }
                group.addTask {
                    for await _ in claims { await manager.finishClaims() }
                }
            }
        }
        await manager.abandonClaims()
    }
}

/// A claimed pool sandbox whose key and volume are still to be made.
struct PendingClaim: Sendable {
    let record: WorkspaceRecord
}
