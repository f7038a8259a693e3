import Foundation
public import ServiceLifecycle

/// Commits running workspaces' state on their intervals (issue 16): each workspace's own
/// (`commit_interval_s`) or the server's (`hearth serve --commit-interval`, 60 s). Every `tick` it
/// commits those that are due; a workspace whose state has not changed publishes nothing.
public struct WorkspaceCommitService: Service {
    let manager: WorkspaceManager
    let tick: Duration
    let clock: any Clock<Duration>

    public init(manager: WorkspaceManager, tick: Duration = .seconds(5), clock: any Clock<Duration> = ContinuousClock()) {
        self.manager = manager
        self.tick = tick
        self.clock = clock
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await clock.sleep(for: tick) } catch { return }
                await manager.commitDue(now: Date())
            }
        }
    }
}
