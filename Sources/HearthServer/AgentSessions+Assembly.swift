import Synchronization
import HearthAudit
import HearthControlPlane
import HearthIdentity
import Logging

extension HearthService {
    /// The agent sessions of a server: store beside the workspace database, key vault, hub, runner.
    static func makeAgentSessions(_ configuration: HearthServerConfiguration, workspaces: WorkspaceManager, identity: IdentityStore,
                                  audit: AuditLog, providerHTTP: ProviderHTTPClientService, logger: Logger) throws -> (AgentSessionManager, any AgentKeySealer) {
        let data = configuration.dataDirectory
        let options = configuration.agents
        let store = try AgentSessionStore(path: data + "/agent-sessions.sqlite")
        let keys = try AgentKeyVault.loadOrCreate(dataDirectory: data)
        let hub = AgentEventHub(store: store, clock: options.clock, queueLimit: options.readerQueueLimit, logger: logger)
        // Each agent step (tool name and outcome) and each scrub (rule and target) is an audit
        // event; never the content.
        let environment = AgentTurnEnvironment(store: store, keys: keys, workspaces: workspaces, logger: logger) { session, action, target, result in
            let tenant = (try? identity.tenant(id: session.tenantId))?.name ?? session.tenantId
            // Group-committed, not awaited: this runs inside a turn, which must not hold a
            // cooperative thread on the audit log's sync.
            if !audit.appendDetached(AuditRecord(tenant: tenant, actor: "agent:" + session.id, action: action, target: target, result: result,
                                                 detail: "user=\(session.userId)")) {
                logger.error("audit event lost: too many waiting", metadata: ["audit.action": "\(action)"])
            }
        }
        let driver = options.driver?(environment) ?? defaultAgentDriver(environment, options: options, http: providerHTTP)
        let holder = ManagerHolder()
        let runner = AgentSessionRunner(events: hub, driver: driver, logger: logger, sweepEvery: options.sweepEvery) {
            guard let manager = holder.manager else { return }
            await manager.sweepIdle()
            await manager.purgeEndedContent()
        }
        let manager = AgentSessionManager(events: hub, runner: runner, workspaces: workspaces, clock: options.clock,
                                          systemLoad: options.systemLoad, admissionThreshold: options.admissionThreshold,
                                          maxRunningTurnsPerTenant: options.maxRunningTurnsPerTenant, logger: logger)
        holder.set(manager)
        return (manager, keys)
    }

    static func defaultAgentDriver(_ environment: AgentTurnEnvironment, options: AgentSessionOptions, http: ProviderHTTPClientService) -> any AgentTurnDriver {
        let store = environment.store
        let logger = environment.logger
        let makeLoop = options.loop ?? ProviderAgentLoop.factory(http: http, defaults: options.loopDefaults,
                                                                    hosts: AgentProviderHostPolicy(allowed: options.providerHostsAllowed),
                                                                    logger: environment.logger) { tenantId in
            do {
                return try AgentScrubRuleRoutes.rules(store, tenantId: tenantId)
            } catch {
                logger.error("tenant scrub rules not applied", metadata: ["tenant.id": "\(tenantId)", "error": "\(error)"])
                return []
            }
        }
        return AgentLoopTurnDriver(environment: environment, makeLoop: makeLoop, historyBudgetBytes: options.historyBudgetBytes)
    }
}

/// The runner's sweep reaches the manager that owns the runner.
private final class ManagerHolder: Sendable {
    private let box = Mutex<AgentSessionManager?>(nil)
    var manager: AgentSessionManager? { box.withLock { $0 } }
    func set(_ manager: AgentSessionManager) { box.withLock { $0 = manager } }
}
