import Foundation
public import ServiceLifecycle

/// Serves `hearth-sync` (issue 16) on every agent connection the manager adopts: one child task
/// per connection, which ends with its connection. A graceful shutdown cancels them all; a
/// request that was being committed then goes unanswered, and the agent asks the next server.
public struct GuestSyncService: Service {
    let manager: WorkspaceManager

    public init(manager: WorkspaceManager) {
        self.manager = manager
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await channel in manager.guestSyncChannels {
                    group.addTask { await manager.serveGuestSync(channel) }
                }
            }
        }
    }
}
