import Synchronization
import HearthControlPlane
import Logging

extension HearthService {
    /// The agent sessions of a server: store beside the workspace database, key vault, hub, runner.
    static func makeAgentSessions(_ configuration: HearthServerConfiguration, workspaces: WorkspaceManager,
                                  logger: Logger) throws -> (AgentSessionManager, any AgentKeySealer) {
        let data = configuration.dataDirectory
        let options = configuration.agents
        let store = try AgentSessionStore(path: data + "/agent-sessions.sqlite")
        let keys = try AgentKeyVault.loadOrCreate(dataDirectory: data)
        let hub = AgentEventHub(store: store, clock: options.clock, queueLimit: options.readerQueueLimit, logger: logger)
        let environment = AgentTurnEnvironment(store: store, keys: keys, workspaces: workspaces, logger: logger)
        let driver = options.driver?(environment) ?? defaultAgentDriver(environment)
        let holder = ManagerHolder()
        let runner = AgentSessionRunner(events: hub, driver: driver, logger: logger, sweepEvery: options.sweepEvery) {
            await holder.manager?.sweepIdle()
        }
        let manager = AgentSessionManager(events: hub, runner: runner, workspaces: workspaces, clock: options.clock,
                                          systemLoad: options.systemLoad, admissionThreshold: options.admissionThreshold, logger: logger)
        holder.set(manager)
        return (manager, keys)
    }

    static func defaultAgentDriver(_ environment: AgentTurnEnvironment) -> any AgentTurnDriver {
        UnavailableTurnDriver()
    }
}

/// The runner's sweep reaches the manager that owns the runner.
private final class ManagerHolder: Sendable {
    private let box = Mutex<AgentSessionManager?>(nil)
    var manager: AgentSessionManager? { box.withLock { $0 } }
    func set(_ manager: AgentSessionManager) { box.withLock { $0 = manager } }
}
