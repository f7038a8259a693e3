import Foundation
public import HearthCore
public import HearthImages
import HearthRuntime
import HearthWire
public import Logging
import Metrics

/// Executes workspace actions: the only place that changes a workspace's state.
///
/// Every state change goes through `WorkspaceStateMachine` and is persisted before the runtime
/// call it announces (`pausing`) and after the one it confirms (`paused`), so a crash leaves a
/// transitional state the reconciler can resolve. One lifecycle operation runs per workspace at a time.
public actor WorkspaceManager {
    public struct Configuration: Sendable {
        public var dataDirectory: String
        public var defaultLimits: ResourceLimits
        public var stopGrace: Duration
        public var warmPoolSize: Int
        /// The quota of every tenant but the operator's that has none of its own.
        public var defaultQuota: TenantQuota
        /// Each workspace's key and volume in the server's store (issue 16); nil keeps none.
        public var volumes: (any WorkspaceVolumes)?
        /// How often a running workspace with no interval of its own is committed; nil: never.
        public var defaultCommitInterval: Duration?

        public init(dataDirectory: String, defaultLimits: ResourceLimits = ResourceLimits(), stopGrace: Duration = .seconds(10),
                    warmPoolSize: Int = 0, defaultQuota: TenantQuota = .standard, volumes: (any WorkspaceVolumes)? = nil,
                    defaultCommitInterval: Duration? = .seconds(60)) {
            self.dataDirectory = dataDirectory
            self.volumes = volumes
            self.defaultCommitInterval = defaultCommitInterval
            self.defaultQuota = defaultQuota
            self.defaultLimits = defaultLimits
            self.stopGrace = stopGrace
            self.warmPoolSize = warmPoolSize
        }
    }

    public let store: WorkspaceStore
    public let registry: RuntimeRegistry
    public nonisolated let images: ImageStore
    let configuration: Configuration
    let logger: Logger
    let metrics: WorkspaceMetrics
    var agents: [String: AgentConnection] = [:]
    var busy: [String: String] = [:]
    var busyWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    /// When each workspace's last interval commit was tried, so one that keeps failing is tried
    /// once per interval, not on every tick.
    var lastCommitAttempt: [String: Date] = [:]
    /// When each workspace was last used, for idle timeouts.
    nonisolated let activity = WorkspaceActivity()
    let poolSignal = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    /// Claimed pool sandboxes whose volumes are still to be made, and the signal for them.
    var pendingClaims: [PendingClaim] = []
    let claimSignal = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    /// Agent connections to serve `hearth-sync` on. Bounded: past it, the oldest offers are
    /// dropped, and those workspaces' `hearth-sync` waits for their next connection.
    let guestSyncSignal = AsyncStream<GuestSyncChannel>.makeStream(bufferingPolicy: .bufferingNewest(4096))
    /// When each workspace's guest may next have a commit it asked for.
    var guestSyncNotBefore: [String: ContinuousClock.Instant] = [:]
    /// Guest-asked commits running, and those waiting for one of `guestCommitConcurrency` slots.
    var guestCommitsRunning = 0
    var guestCommitTenants: [String: Int] = [:]
    var guestCommitWaiters: [(tenant: String, continuation: CheckedContinuation<Void, Never>)] = []
    /// `restoreFile` calls under way.
    var restoreFilesRunning = 0

    public init(store: WorkspaceStore, registry: RuntimeRegistry, images: ImageStore, configuration: Configuration, logger: Logger,
                metrics: WorkspaceMetrics = .disabled) {
        self.store = store
        self.metrics = metrics
        self.registry = registry
        self.images = images
        self.configuration = configuration
        self.logger = logger
    }

    public func perform(_ action: WorkspaceAction) async throws -> ActionOutcome {
        switch action {
        case .create(let request):
            var created = try await observedCreate(request) { try await create(request) }
            // Set after the create or the claim of a pooled sandbox alike.
            if let seconds = request.commitIntervalSeconds {
                try store.setCommitInterval(created.id, seconds: seconds)
                created.commitIntervalSeconds = seconds
            }
            if let seconds = request.idleTimeoutSeconds, seconds > 0 {
                try store.setIdleTimeout(created.id, seconds: seconds)
                created.idleTimeoutSeconds = seconds
            }
            return .workspace(created)
        case .list(let tenantId): return .workspaces(try store.all(tenantId: tenantId).map(\.workspace))
        case .get(let ref): return .workspace(try record(ref).workspace)
        case .configure(let ref, let idle, let interval):
            let record = try record(ref)
            // Settings, not lifecycle: no busy marker, and the services read them on their next tick.
            if let idle { try store.setIdleTimeout(record.id, seconds: idle > 0 ? idle : nil) }
            if let interval { try store.setCommitInterval(record.id, seconds: interval) }
            return .workspace(try self.record(record.id).workspace)
        case .start(let ref): return .workspace(try await observed(.start, ref) { try await start(ref) })
        case .stop(let ref): return .workspace(try await observed(.stop, ref) { try await stop(ref) })
        case .pause(let ref): return .workspace(try await observed(.pause, ref) { try await pause(ref) })
        case .resume(let ref): return .workspace(try await observed(.resume, ref) { try await resume(ref) })
        case .delete(let ref):
            try await observed(.delete, ref) { try await delete(ref) }
            return .deleted
        case .sync(let ref): return .committed(try await sync(ref))
        case .rollback(let ref, let generation): return .committed(try await rollback(ref, to: generation))
        case .fork(let ref, let generation, let name): return .workspace(try await fork(ref, generation: generation, name: name))
        case .generations(let ref): return .generations(try await generations(ref))
        case .listGeneration(let ref, let generation, let path):
            let record = try record(ref)
            return .generationListing(try await durableVolumes().list(workspace: record.id, tenant: record.tenantId, generation: generation,
                                                                      path: path, limit: Self.listedEntries))
        case .readGeneration(let ref, let generation, let path):
            let record = try record(ref)
            return .generationFile(try await durableVolumes().read(workspace: record.id, tenant: record.tenantId, generation: generation,
                                                                   path: path, limit: Self.readableBytes))
        case .restoreFile(let ref, let generation, let path):
            return .restoredFile(try await restoreFile(ref, generation: generation, path: path))
        case .diffGenerations(let ref, let from, let to):
            let record = try record(ref)
            let (changes, truncated) = try await durableVolumes().diff(workspace: record.id, tenant: record.tenantId, from: from, to: to,
                                                                       limit: Self.listedEntries)
            return .generationDiff(changes, truncated: truncated)
        }
    }

    /// Opens a stream to a running workspace's agent, for the control plane's own use (the warm
    /// pool). Everyone else goes through `WorkspaceAgent`.
    func openStream(_ ref: String, _ request: Request) async throws -> HostStream {
        try await agent(for: ref).open(request)
    }

    public func workspace(_ ref: String) throws -> Workspace { try record(ref).workspace }

    /// The tenant that owns workspace `id`: the network's policy lookup, before the sandbox starts.
    public func tenantId(of id: String) -> String? { try? record(id).tenantId }

    /// The id of the workspace `ref` names in `tenantId`. The API resolves every reference
    /// through here first, so actions only ever see ids the caller's tenant owns.
    public func resolve(_ ref: String, tenantId: String) throws -> String {
        guard let record = try store.find(ref, tenantId: tenantId) else { throw HearthError(.notFound, "no workspace \(ref)") }
        return record.id
    }

    // MARK: Lifecycle

    func create(_ request: CreateWorkspace) async throws -> Workspace {
        let limits = try (request.limits ?? configuration.defaultLimits).validated()
        try Self.checkName(request.name)
        let runtime = try registry.runtime(for: request.runtime)
        if limits.diskMiB != nil, !runtime.limitsDisk {
            throw HearthError(.invalidArgument, "the \(runtime.kind.rawValue) runtime cannot size a workspace's disk; its workspaces write to the server's data directory (use --runtime qemu for a disk of its own)")
        }
        try checkQuota(tenantId: request.tenantId, adding: limits)
        if let claimed = try await claimPooled(request, runtime: runtime.kind, limits: limits) { return claimed }
        let image = try await images.resolve(request.image ?? ImageStore.baseReference,
                                             for: ImageCaller(tenantId: request.tenantId, isOperator: request.byOperator))
        let id = Workspace.newID()
        let now = Date()
        let record = WorkspaceRecord(id: id, tenantId: request.tenantId, name: request.name ?? Self.defaultName(for: id), runtime: runtime.kind,
                                     image: image.id, imageRootfs: image.rootfs, state: .creating, cpus: limits.cpus,
                                     memoryMiB: limits.memoryMiB, diskMiB: limits.diskMiB, pooled: false, failure: nil, createdAt: now, updatedAt: now)
        // Checked again with no suspension before the insert: the image may have taken a while.
        try checkQuota(tenantId: request.tenantId, adding: limits)
        try store.insert(record)
        let tenantId = request.tenantId
        return try await withBusy(id, "creating") {
            // The volume's key and objects (a few synced writes) are made while the sandbox boots:
            // nothing reads them before the first commit, which waits for the create to end.
            try await boot(record, event: .created, alongside: { try await self.createVolume(id: id, tenantId: tenantId) })
        }
    }

    /// Makes the workspace's key and volume if they are missing, without failing the workspace.
    func ensureVolume(id: String, tenantId: String) async throws {
        try await configuration.volumes?.create(workspace: id, tenant: tenantId)
    }

    /// Makes the workspace's key and volume; a store that refuses fails the create, and the
    /// workspace is marked failed (a delete then shreds whatever was made).
    func createVolume(id: String, tenantId: String) async throws {
        do {
            try await ensureVolume(id: id, tenantId: tenantId)
        } catch {
            throw failVolume(id, error)
        }
    }

    /// Marks workspace `id` failed because its volume could not be made, and returns why.
    func failVolume(_ id: String, _ error: any Error) -> HearthError {
        let failure = (error as? HearthError) ?? HearthError(.internal, "the workspace's volume could not be created", detail: "\(error)")
        logger.error("workspace volume not created", metadata: ["workspace.id": "\(id)", "error": "\(failure)"])
        _ = try? store.apply(.fail, to: id, failure: failure.message)
        return failure
    }

    func start(_ ref: String) async throws -> Workspace {
        let record = try record(ref)
        try checkQuota(tenantId: record.tenantId, adding: record.limits, except: record.id)
        return try await withBusy(record.id, "starting") {
            let starting = try store.apply(.start, to: record.id)
            let runtime = try registry.existing(record.runtime)
            // A failed workspace may have left a half-dead sandbox.
            try? await runtime.stop(spec(record), grace: .zero)
            // The volume exists unless a crash came between the sandbox's boot and its volume's
            // creation; making it again is idempotent (existing keys are only read). A store that is
            // down does not stop a start: the next commit tries again.
            return try await boot(starting, event: .started, alongside: { try? await self.ensureVolume(id: record.id, tenantId: record.tenantId) })
        }
    }

    /// Prepares and starts the sandbox of a record in `creating` or `starting`, then confirms with
    /// `event`. `alongside` runs while the sandbox boots; if it fails, so does the boot.
    func boot(_ record: WorkspaceRecord, event: WorkspaceEvent,
              alongside: (@Sendable () async throws -> Void)? = nil) async throws -> Workspace {
        let runtime = try registry.existing(record.runtime)
        let spec = spec(record)
        // Its failure, or nil; awaited (cancelled first) if the boot throws before it is read.
        async let alongsideFailure: (any Error)? = {
            do { try await alongside?() } catch { return error }
            return nil
        }()
        do {
            try await runtime.prepare(spec)
            let agent = try await runtime.start(spec)
            if let failure = await alongsideFailure {
                agent.close()
                throw failure
            }
            adopt(agent, for: record.id)
            return try store.apply(event, to: record.id).workspace
        } catch {
            let failure = (error as? HearthError) ?? HearthError(.runtimeFailed, "the workspace failed to start", detail: "\(error)")
            logger.error("workspace failed to start", metadata: ["workspace.id": "\(record.id)", "error": "\(failure)"])
            try? await runtime.stop(spec, grace: .zero)
            _ = try? store.apply(.fail, to: record.id, failure: failure.message)
            throw failure
        }
    }

    func stop(_ ref: String) async throws -> Workspace {
        let record = try record(ref)
        return try await withBusy(record.id, "stopping") {
            try store.apply(.stop, to: record.id)
            let runtime = try registry.existing(record.runtime)
            agents.removeValue(forKey: record.id)?.close()
            do {
                try await runtime.stop(spec(record), grace: configuration.stopGrace)
            } catch {
                _ = try? store.apply(.fail, to: record.id, failure: "the workspace could not be stopped")
                throw error
            }
            await commitAfter(record, trigger: .stop)
            return try store.apply(.stopped, to: record.id).workspace
        }
    }

    func pause(_ ref: String) async throws -> Workspace {
        let record = try record(ref)
        return try await withBusy(record.id, "pausing") {
            try store.apply(.pause, to: record.id)
            let runtime = try registry.existing(record.runtime)
            let agent = agents.removeValue(forKey: record.id)
            do {
                try await runtime.pause(spec(record), agent: agent)
            } catch {
                let status = await runtime.status(spec(record))
                if status == .running, let again = try? await runtime.reconnect(spec(record)) {
                    adopt(again, for: record.id)
                    _ = try? store.apply(.adoptRunning, to: record.id)
                } else {
                    _ = try? store.apply(.fail, to: record.id, failure: "the workspace could not be paused")
                }
                throw error
            }
            await commitAfter(record, trigger: .pause)
            return try store.apply(.paused, to: record.id).workspace
        }
    }

    func resume(_ ref: String) async throws -> Workspace {
        let record = try record(ref)
        try checkQuota(tenantId: record.tenantId, adding: record.limits, except: record.id)
        return try await withBusy(record.id, "resuming") {
            try store.apply(.resume, to: record.id)
            let runtime = try registry.existing(record.runtime)
            do {
                let agent = try await runtime.resume(spec(record))
                adopt(agent, for: record.id)
            } catch {
                _ = try? store.apply(.fail, to: record.id, failure: (error as? HearthError)?.message ?? "the workspace could not be resumed")
                throw error
            }
            return try store.apply(.resumed, to: record.id).workspace
        }
    }

    func delete(_ ref: String) async throws {
        let record = try record(ref)
        try await withBusy(record.id, "deleting") {
            try store.apply(.delete, to: record.id)
            agents.removeValue(forKey: record.id)?.close()
            try await registry.existing(record.runtime).destroy(spec(record))
            // Before the row goes: a store that fails leaves the workspace `deleting`, and the
            // reconciler (or the store's sweep at start-up) finishes the shred.
            try await configuration.volumes?.delete(workspace: record.id)
            try store.apply(.deleted, to: record.id)
            try store.delete(record.id)
            activity.forget(record.id)
            guestSyncNotBefore[record.id] = nil
        }
    }

    // MARK: Agents

    func agent(for ref: String) async throws -> AgentConnection {
        let record = try record(ref)
        guard record.state == .running else {
            throw HearthError(.conflict, "the workspace is \(record.state.rawValue), not running")
        }
        if let agent = agents[record.id], !agent.isClosed { return agent }
        let agent = try await registry.existing(record.runtime).reconnect(spec(record))
        adopt(agent, for: record.id)
        return agent
    }

    /// Keeps `agent` as the workspace's channel and watches it: a guest that breaks the protocol,
    /// or a sandbox that dies under it, marks the workspace failed (it can be started again).
    func adopt(_ agent: AgentConnection, for id: String) {
        agents[id]?.close()
        agents[id] = agent
        meterTraffic(of: agent, workspace: id)
        offerGuestSync(agent, for: id)
        agent.onClose { [weak self] reason in
            guard let self else { return }
            Task { await self.agentClosed(agent, id: id, reason: reason) }
        }
    }

    func agentClosed(_ agent: AgentConnection, id: String, reason: HearthError?) async {
        guard agents[id] === agent else { return }  // Replaced or closed on purpose.
        agents[id] = nil
        // A claim's volume being made is not a lifecycle operation: a dead agent then still fails the workspace.
        guard busy[id] == nil || busy[id] == Self.claiming, let record = try? store.find(id), record.state == .running else { return }
        let status = await ((try? registry.existing(record.runtime))?.status(spec(record))) ?? .missing
        let message = reason.map { "the workspace agent broke the protocol: \($0.message)" }
            ?? (status == .running ? "the workspace agent stopped answering" : "the sandbox exited unexpectedly")
        logger.warning("workspace failed", metadata: ["workspace.id": "\(id)", "tenant.id": "\(record.tenantId)", "runtime": "\(record.runtime.rawValue)",
                                                      "reason": "\(message)", "detail": "\(reason?.detail ?? "")"])
        metrics.failure(reason != nil ? .agentProtocol : status == .running ? .agentLost : .sandboxExited, runtime: record.runtime)
        _ = try? store.apply(.fail, to: id, failure: message)
        if status == .running, let runtime = try? registry.existing(record.runtime) {
            try? await runtime.stop(spec(record), grace: .seconds(1))
        }
    }

    // MARK: Helpers

    func record(_ ref: String) throws -> WorkspaceRecord {
        guard let record = try store.find(ref) else { throw HearthError(.notFound, "no workspace \(ref)") }
        return record
    }

    func spec(_ record: WorkspaceRecord) -> SandboxSpec {
        // The image's root is derived from its verified digest, never taken from the row as stored.
        SandboxSpec(id: record.id, image: ImageRef(id: record.image, rootfs: images.rootfs(of: record.image) ?? "/nonexistent"), limits: record.limits,
                    stateDirectory: "\(configuration.dataDirectory)/workspaces/\(record.id)")
    }

    /// One operation per workspace at a time. A commit in progress is waited for (it is bounded by
    /// its limits and its flush's deadline); any other operation in progress is a conflict.
    func withBusy<T>(_ id: String, _ what: String, _ body: () async throws -> T) async throws -> T {
        // A commit or a claim's volume is waited out; any other operation is a conflict.
        try await waitOut(id) { Self.waitedOut.contains($0) }
        if let current = busy[id] { throw HearthError(.conflict, "the workspace is busy \(current)") }
        busy[id] = what
        defer { releaseBusy(id) }
        return try await body()
    }

    /// What workspace `id` is busy with, and how many operations wait it out.
    public func busyState(of id: String) -> (operation: String?, waiting: Int) {
        (busy[id], busyWaiters[id]?.count ?? 0)
    }

    /// Waits while workspace `id` is busy with an operation `waited` accepts. A caller that went
    /// away while it waited does not act later.
    func waitOut(_ id: String, _ waited: (String) -> Bool) async throws {
        while let current = busy[id], waited(current) {
            await withCheckedContinuation { busyWaiters[id, default: []].append($0) }
            try Task.checkCancellation()
        }
    }

    /// Refuses a workspace name that is not valid (nil: the default name will be used).
    static func checkName(_ name: String?) throws {
        if let name, !Workspace.isValidName(name) {
            throw HearthError(.invalidArgument, "a name is 1-63 lowercase letters, digits and dashes, not starting with ws_")
        }
    }

    func releaseBusy(_ id: String) {
        busy[id] = nil
        for waiter in busyWaiters.removeValue(forKey: id) ?? [] { waiter.resume() }
    }

    /// Busy markers that other operations wait for instead of failing with a conflict.
    static let waitedOut: Set<String> = [committing, claiming]
    static let claiming = "claiming"

    static func defaultName(for id: String) -> String { "ws-" + id.dropFirst(3).prefix(8) }
}
