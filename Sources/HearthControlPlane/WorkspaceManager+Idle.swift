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

    /// When workspace `id` was last used, if it has been since this server started.
    public nonisolated func lastActivity(of id: String) -> Date? { activity.lastUse(of: id) }

    /// Pauses every running workspace whose idle timeout has passed at `now`. A workspace counts as
    /// used when it last became running (a start or resume) or when it was last used, whichever is
    /// later. Returns the ids paused.
    @discardableResult
    public func pauseIdle(now: Date) async -> [String] {
        let due = ((try? store.all()) ?? []).filter { record in
            guard record.state == .running, !record.pooled, busy[record.id] == nil,
                  let timeout = record.idleTimeoutSeconds, timeout > 0 else { return false }
            let since = max(activity.lastUse(of: record.id) ?? record.updatedAt, record.updatedAt)
            return now.timeIntervalSince(since) >= Double(timeout)
        }
        var paused: [String] = []
        for record in due {
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

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await clock.sleep(for: tick) } catch { return }
                await manager.pauseIdle(now: Date())
            }
        }
    }
}
