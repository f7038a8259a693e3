public import Foundation
import HearthCore
import Logging
public import ServiceLifecycle

/// Issue 16: a workspace with an idle timeout (`idle_timeout_s`, off unless set) is paused once it
/// has been running that long with no activity. Its processes stay in the checkpoint, and the
/// pause commits its state, as any pause does. Output alone (a build printing) is not activity:
/// what counts is someone using it (`WorkspaceActivity`).
extension WorkspaceManager {
    /// Notes use of workspace `id`; callable without entering the actor (a terminal keystroke).
    public nonisolated func noteActivity(_ id: String, at now: Date = Date()) { activity.note(id, at: now) }

    /// Whether work a user started (an exec, a tunnel) is under way in workspace `id`.
    public nonisolated func isInUse(_ id: String) -> Bool { activity.inUse(id) }

    /// When workspace `id` was last used, if it has been since this server started.
    public nonisolated func lastActivity(of id: String) -> Date? { activity.lastUse(of: id) }

    /// Pauses every running workspace whose idle timeout has passed at `now`. A workspace counts as
    /// used when it last became running (a start, a resume, its re-adoption by this server) or when
    /// it was last used, whichever is later; one with work under way that a user started (an exec,
    /// a tunnel) is not idle. Each is checked again just before its pause, since earlier pauses
    /// take a while. Stops between pauses at shutdown. Returns the ids paused.
    @discardableResult
    public func pauseIdle(now: Date) async -> [String] {
        let records = (try? store.all()) ?? []
        activity.keepOnly(Set(records.map(\.id)))
        var paused: [String] = []
        for candidate in records where isIdle(candidate, now: now) {
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            guard let record = try? store.find(candidate.id), isIdle(record, now: now) else { continue }
            do {
                _ = try await perform(.pause(record.id))
                paused.append(record.id)
                logger.notice("workspace paused after its idle timeout", metadata: [
                    "workspace.id": "\(record.id)", "tenant.id": "\(record.tenantId)",
                    "workspace.idle_timeout_s": "\(record.idleTimeoutSeconds ?? 0)"])
            } catch {
                // Busy or gone meanwhile, or the pause failed (then the workspace says why).
                logger.warning("idle workspace not paused", metadata: ["workspace.id": "\(record.id)", "error": "\(error)"])
            }
        }
        return paused
    }

    private func isIdle(_ record: WorkspaceRecord, now: Date) -> Bool {
        guard record.state == .running, !record.pooled, busy[record.id] == nil, !activity.inUse(record.id),
              let timeout = record.idleTimeoutSeconds, timeout > 0 else { return false }
        let since = max(activity.lastUse(of: record.id) ?? record.updatedAt, record.updatedAt)
        return now.timeIntervalSince(since) >= Double(timeout)
    }
}

/// Pauses idle workspaces (`WorkspaceManager.pauseIdle`) every `tick`.
public struct WorkspaceIdleService: Service {
    let manager: WorkspaceManager
    let tick: Duration
    let clock: any Clock<Duration>

    public init(manager: WorkspaceManager, tick: Duration = .seconds(15), clock: any Clock<Duration> = ContinuousClock()) {
        self.manager = manager
        self.tick = tick
        self.clock = clock
    }

    /// Only the wait between passes ends at a graceful shutdown: a pause under way finishes (a
    /// checkpoint cut short would fail the workspace), and the pass stops before the next one.
    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await clock.sleep(for: tick) } } catch { return }
            guard !Task.isShuttingDownGracefully else { return }
            await manager.pauseIdle(now: Date())
        }
    }
}
