public import ServiceLifecycle

/// Commits every running workspace's state on an interval (issue 16; `hearth serve
/// --commit-interval`, 60 s by default). A workspace whose state has not changed publishes nothing.
public struct WorkspaceCommitService: Service {
    let manager: WorkspaceManager
    let interval: Duration
    let clock: any Clock<Duration>

    public init(manager: WorkspaceManager, interval: Duration, clock: any Clock<Duration> = ContinuousClock()) {
        self.manager = manager
        self.interval = interval
        self.clock = clock
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await clock.sleep(for: interval) } catch { return }
                await manager.commitRunning()
            }
        }
    }
}
