import Foundation
import HearthAPI
public import HearthAudit
public import HearthControlPlane
import HearthCore
public import HearthIdentity
import HearthImages
public import HearthNetwork
public import HearthSessions
public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import Metrics
import NIOCore
public import Prometheus
import ServiceLifecycle
import UnixSignals

/// Assembles the server: data directory, token, database, runtimes, control plane, HTTP.
public struct HearthService: Sendable {
    public let configuration: HearthServerConfiguration
    public let manager: WorkspaceManager
    public let registry: RuntimeRegistry
    public let tokenPath: String
    public let identity: IdentityStore
    public let audit: AuditLog
    /// Live sessions (terminals): a Service of the application's group, so stopping the server ends them.
    public let sessions: SessionHub
    /// Workspace networks (`--network on`); nil keeps every workspace without a network.
    public let network: WorkspaceNetworks?
    public var terminals: TerminalHub { sessions.terminals }
    /// Agent sessions (issue 18); its runner is a Service of the application's group.
    public let agentSessions: AgentSessionManager
    let agentKeys: any AgentKeySealer
    /// The provider HTTP client's owner: the first of the application's services, so it stops last.
    let providerHTTP: ProviderHTTPClientService
    let previewGrants = PreviewGrants()
    let logger: Logger
    let prometheus: PrometheusCollectorRegistry
    /// Every metric of this server goes through this factory into `prometheus`, which `/metrics` serves.
    let metrics: PrometheusMetricsFactory
    /// Checked when the service is made, so a bad `--trusted-proxy` fails at start.
    var trustedProxies: TrustedProxies { (try? TrustedProxies(configuration.limits.trustedProxies)) ?? TrustedProxies.none }

    /// `runtimes` is the composition root's choice, already probed (`HearthHost.HostRuntimes`, or a
    /// test kit's `ProcessRuntime`): this target names no sandbox driver.
    public static func make(_ configuration: HearthServerConfiguration, runtimes registry: RuntimeRegistry, logger: Logger,
                            prometheus: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                            network: WorkspaceNetworks? = nil) async throws -> HearthService {
        let data = configuration.dataDirectory
        let metrics = HearthMetrics.factory(registry: prometheus)
        _ = try TrustedProxies(configuration.limits.trustedProxies)
        for dir in [data, data + "/workspaces", data + "/images"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        chmod(data, 0o700)
        let (token, tokenPath) = try AdminSecrets.loadOrCreateToken(dataDirectory: data)
        let identity = try IdentityStore(path: data + "/identity.sqlite", policy: configuration.identityPolicy)
        let bootstrap = try identity.bootstrap(adminToken: token)
        if let password = bootstrap.adminPassword {
            let path = data + "/admin.password"
            unlink(path)
            try AdminSecrets.writeSecret(password, to: path)
            logger.notice("created tenant default and user admin", metadata: ["password.file": "\(path)"])
        }
        let audit = try AuditLog(path: data + "/audit.sqlite")
        audit.setLossReporter { [logger] count, error in
            logger.error("audit events lost", metadata: ["audit.lost": "\(count)", "error": "\(error)"])
        }
        let store = try WorkspaceStore(path: data + "/hearth.sqlite")
        for availability in registry.availability.values {
            logger.info("runtime probed", metadata: ["runtime.name": "\(availability.runtime.rawValue)", "runtime.available": "\(availability.available)",
                                                     "runtime.mode": "\(availability.mode ?? "-")", "runtime.reason": "\(availability.reason)"])
        }
        let manager = WorkspaceManager(
            store: store, registry: registry, images: ImageStore(root: data + "/images", importDirectory: configuration.imageImportDirectory, logger: logger),
            configuration: .init(dataDirectory: data, defaultLimits: configuration.defaultLimits, warmPoolSize: configuration.warmPoolSize,
                                 defaultQuota: configuration.defaultQuota, volumes: configuration.workspaceVolumes,
                                 defaultCommitInterval: configuration.commitInterval),
            logger: logger, metrics: WorkspaceMetrics(factory: metrics))
        if let network {
            await network.setTenantLookup { [manager] id in await manager.tenantId(of: id) }
            let auditor = Auditor(log: audit, logger: logger)
            await network.setAuditSink { record in
                let what = record.entry.map { "\($0.kind.rawValue) \($0.destination): \($0.rule)" } ?? ""
                let detail = record.heldBack == 0 ? what
                    : "\(record.heldBack) more denials in the last interval" + (what.isEmpty ? "" : "; the last: \(what)")
                auditor.recordSystem(tenantId: nil, action: "network.denied", target: record.workspace ?? "*", detail: detail)
            }
        }
        let providerHTTP = ProviderHTTPClientService(logger: logger)
        let (agentSessions, agentKeys) = try makeAgentSessions(configuration, workspaces: manager, identity: identity, audit: audit,
                                                               providerHTTP: providerHTTP, logger: logger)
        return HearthService(configuration: configuration, manager: manager, registry: registry, tokenPath: tokenPath,
                             identity: identity, audit: audit, sessions: SessionHub(logger: logger), network: network,
                             agentSessions: agentSessions, agentKeys: agentKeys, providerHTTP: providerHTTP, logger: logger,
                             prometheus: prometheus, metrics: metrics)
    }

    /// The HTTP application. `onServerRunning` reports the bound port.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: HearthContext.self)
        let cookies = SessionCookies(publicURL: configuration.publicURL)
        let auditor = Auditor(log: audit, logger: logger)
        var previews = PreviewRoutes(manager: manager, auditor: auditor, cookies: cookies, grants: previewGrants, identity: identity)
        previews.origin = configuration.previewDomain.map { PreviewOrigin(domain: $0, secure: cookies.secure) }
        let limits = configuration.limits
        let proxies = trustedProxies
        let limiters = RateLimiters(limits)
        router.middlewares.add(RequestIdMiddleware(proxies: proxies))
        router.middlewares.add(MetricsMiddleware(metrics: HTTPMetrics(factory: metrics)))
        router.middlewares.add(ClientAddressMiddleware(proxies: proxies))
        router.middlewares.add(ErrorMappingMiddleware())
        if let origin = previews.origin { router.middlewares.add(PreviewOriginMiddleware(origin: origin, routes: previews)) }
        router.middlewares.add(RateLimitMiddleware(stage: .address, limiters: limiters, logger: logger))
        router.middlewares.add(AuthMiddleware(identity: identity, cookies: cookies))
        router.middlewares.add(RateLimitMiddleware(stage: .credential, limiters: limiters, logger: logger))
        let manager = self.manager
        let registry = self.registry
        let prometheus = self.prometheus
        router.get("/v1/health") { _, _ in try json(API.Health(status: "ok", version: HearthVersion.current)) }
        router.get("/v1/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.get("/v1/runtimes") { _, _ in
            let bodies = RuntimeKind.allCases.compactMap { kind in registry.availability[kind] }.map {
                API.RuntimeBody(runtime: $0.runtime.rawValue, available: $0.available, mode: $0.mode, reason: $0.reason,
                                default: $0.runtime == registry.defaultRuntime)
            }
            return try json(["runtimes": bodies])
        }
        HearthMetrics.registerRoute(on: router, registry: prometheus, manager: manager)
        let v1 = router.group("/v1")
        WorkspaceRoutes(manager: manager, auditor: auditor).register(on: v1)
        GenerationRoutes(manager: manager, auditor: auditor).register(on: v1)
        ExecRoutes(manager: manager, auditor: auditor).register(on: v1)
        FileRoutes(manager: manager, auditor: auditor).register(on: v1)
        PortEventRoutes(manager: manager, logger: logger).register(on: v1)
        QuotaRoutes(manager: manager, identity: identity, auditor: auditor).register(on: v1)
        NetworkRoutes(manager: manager, identity: identity, network: network, auditor: auditor).register(on: v1)
        ImageRoutes(images: manager.images, identity: identity, auditor: auditor).register(on: v1)
        let agentStore = agentSessions.store
        IdentityRoutes(identity: identity, auditor: auditor, cookies: cookies) { user in
            try agentStore.deleteUserKeys(tenantId: user.tenantId, userId: user.id)
        }.register(on: router)
        AuditRoutes(log: audit).register(on: router)
        AgentSessionRoutes(sessions: agentSessions, keys: agentKeys, auditor: auditor,
                           providerHosts: AgentProviderHostPolicy(allowed: configuration.agents.providerHostsAllowed),
                           keepalive: SSEKeepalive(interval: configuration.agents.keepaliveInterval, timer: configuration.agents.streamTimer)).register(on: v1)
        previews.register(on: router)
        WebAssets.register(on: router, configuredDirectory: configuration.webDirectory)

        let wsRouter = Router(context: HearthContext.self)
        wsRouter.middlewares.add(RequestIdMiddleware(proxies: proxies))
        wsRouter.middlewares.add(ClientAddressMiddleware(proxies: proxies))
        wsRouter.middlewares.add(ErrorMappingMiddleware())
        if let origin = previews.origin {
            PreviewSocket.register(on: wsRouter, origin: origin, manager: manager, grants: previewGrants, identity: identity)
        }
        wsRouter.middlewares.add(RateLimitMiddleware(stage: .address, limiters: limiters, logger: logger))
        wsRouter.middlewares.add(AuthMiddleware(identity: identity, cookies: cookies))
        wsRouter.middlewares.add(RateLimitMiddleware(stage: .credential, limiters: limiters, logger: logger))
        ExecSocket.register(on: wsRouter, manager: manager, auditor: auditor)
        PortTunnelSocket.register(on: wsRouter, manager: manager)
        TerminalSocket.register(on: wsRouter, manager: manager, terminals: terminals, auditor: auditor)
        PreviewSocket.register(on: wsRouter, manager: manager, grants: previewGrants, identity: identity, servedElsewhere: previews.origin != nil)

        // Every connection passes the guard first (per-address cap, first-head timeout); later
        // requests and bodies are timed by Hummingbird's idle handler.
        let wsResponder = wsRouter.buildResponder()
        let counts = ConnectionCounts(maxPerAddress: limits.maxConnectionsPerAddress)
        let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(idleTimeout: TimeAmount(limits.idleTimeout)), ws: .init(maxFrameSize: 1 << 20))
        let headerTimeout = TimeAmount(limits.headerTimeout)
        let server = HTTPServerBuilder { responder in
            GuardedChildChannel(inner: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: wsResponder,
                                                                    configuration: channelConfiguration),
                                counts: counts, exempt: { proxies.isTrusted($0) }, headerTimeout: headerTimeout)
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "hearth"),
            // Stopped in reverse: the runner's turns end before the provider client they use.
            services: [providerHTTP, sessions, agentSessions.runner],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Reconciles, then serves until SIGINT/SIGTERM. Sandboxes outlive the server and are re-adopted next start.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let report = await manager.reconcile()
        if let network, let records = try? await manager.store.all(includePooled: true) {
            // Networks adopted for workspaces that are gone (deleted while a detach was cut short).
            await network.detachAll(except: Set(records.map(\.id)))
        }
        try await agentSessions.recover()
        logger.info("hearth ready", metadata: ["data.dir": "\(configuration.dataDirectory)", "runtime.default": "\(registry.defaultRuntime?.rawValue ?? "none")",
                                               "reconcile.adopted": "\(report.adopted.count)"])
        var services: [any Service] = [application(onServerRunning: onServerRunning)]
        // First, so it shuts down last (a group stops its services in reverse): no claim is made
        // after its loop that makes claimed workspaces' volumes has gone.
        if configuration.warmPoolSize > 0 { services.insert(WarmPoolService(manager: manager), at: 0) }
        if configuration.workspaceVolumes != nil {
            services.append(WorkspaceCommitService(manager: manager, tick: configuration.commitTick))
        }
        services.append(WorkspaceIdleService(manager: manager))
        services.append(GuestSyncService(manager: manager))
        if let network { services.append(network) }
        if configuration.prepareBaseImage, registry.defaultRuntime != nil {
            services.append(BaseImagePreparation(images: manager.images, logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // Cancelled (a test's stop) or signalled, the agents are detached either way; sandboxes run on.
        do {
            try await group.run()
        } catch {
            await manager.detachAll()
            await audit.settle()
            throw error
        }
        await manager.detachAll()
        // Audit records nobody waited for (sampled denials, agent steps) are committed before exit.
        await audit.settle()
    }
}

public enum HearthVersion {
    public static let current = "0.1.0"
}
