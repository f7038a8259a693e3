import Foundation
import HearthCore
public import Logging
import GRDB

/// What a new session is made of, parsed and authorized by the API layer.
public struct CreateAgentSession: Sendable {
    public var tenantId: String
    public var userId: String
    public var provider: String
    public var model: String
    /// An existing workspace of the tenant (id or name); nil makes a new one.
    public var workspace: String?
    /// Used when `workspace` is nil.
    public var newWorkspace: CreateWorkspace?
    public var systemPrompt: String
    public var idleTimeoutSeconds: Int
    public var onIdle: AgentSessionRecord.OnIdle
    public var budgetTokens: Int?
    /// A JSON object's text, merged into every provider request (parsed and bounded by the API layer).
    public var extraFieldsJSON: String?

    public init(tenantId: String, userId: String, provider: String, model: String, workspace: String? = nil, newWorkspace: CreateWorkspace? = nil,
                systemPrompt: String = "", idleTimeoutSeconds: Int = AgentSessionRecord.defaultIdleTimeout, onIdle: AgentSessionRecord.OnIdle = .pause,
                budgetTokens: Int? = nil, extraFieldsJSON: String? = nil) {
        self.extraFieldsJSON = extraFieldsJSON
        self.tenantId = tenantId
        self.userId = userId
        self.provider = provider
        self.model = model
        self.workspace = workspace
        self.newWorkspace = newWorkspace
        self.systemPrompt = systemPrompt
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.onIdle = onIdle
        self.budgetTokens = budgetTokens
    }
}

/// How loaded this host is, for `GET /v1/system` and admission.
public struct SystemLoad: Sendable, Equatable {
    public var memoryTotalBytes: UInt64
    public var memoryAvailableBytes: UInt64
    public var load1: Double

    public init(memoryTotalBytes: UInt64, memoryAvailableBytes: UInt64, load1: Double) {
        self.memoryTotalBytes = memoryTotalBytes
        self.memoryAvailableBytes = memoryAvailableBytes
        self.load1 = load1
    }

    /// Used memory as a fraction of total, 0...1.
    public var memoryPressure: Double {
        guard memoryTotalBytes > 0 else { return 0 }
        let used = memoryTotalBytes - min(memoryAvailableBytes, memoryTotalBytes)
        return Double(used) / Double(memoryTotalBytes)
    }
}

/// New sessions were refused because the host is short of memory. `retryAfterSeconds` is when to come back.
public struct AgentAdmissionRefused: Error, Sendable {
    public var pressure: Double
    public var retryAfterSeconds: Int
}

/// Sessions in the control plane: create, send, cancel, list, get, delete, idle timeout and
/// recovery after a crash. Every reference is looked up within the caller's tenant.
public actor AgentSessionManager {
    public nonisolated let events: AgentEventHub
    public nonisolated let runner: AgentSessionRunner
    let workspaces: WorkspaceManager
    let clock: any AgentClock
    let systemLoad: @Sendable () -> SystemLoad
    let logger: Logger
    /// Above this used-memory fraction new sessions are refused.
    public nonisolated let admissionThreshold: Double
    /// Turns one tenant may have running at once (each holds a provider stream and a workspace's
    /// tools); a send beyond it is refused before anything is recorded.
    public nonisolated let maxRunningTurnsPerTenant: Int

    public nonisolated var store: AgentSessionStore { events.store }
    /// Sessions whose steps are being recorded, rewound or forked: a send, rewind, fork or delete
    /// of one waits for nothing and is refused (`conflict`).
    var rearranging: Set<String> = []
    /// Workspaces a rewind is stopping, rolling back and starting: no session of theirs sends.
    var rewindingWorkspaces: Set<String> = []
    nonisolated var checkpoints: AgentCheckpointer { AgentCheckpointer(workspaces: workspaces, events: events, logger: logger) }

    public init(events: AgentEventHub, runner: AgentSessionRunner, workspaces: WorkspaceManager, clock: any AgentClock = SystemAgentClock(),
                systemLoad: @escaping @Sendable () -> SystemLoad = SystemLoadProbe.read, admissionThreshold: Double = 0.9,
                maxRunningTurnsPerTenant: Int = AgentSessionManager.defaultMaxRunningTurnsPerTenant, logger: Logger) {
        self.events = events
        self.runner = runner
        self.workspaces = workspaces
        self.clock = clock
        self.systemLoad = systemLoad
        self.admissionThreshold = admissionThreshold
        self.maxRunningTurnsPerTenant = max(1, maxRunningTurnsPerTenant)
        self.logger = logger
    }

    public nonisolated func load() -> SystemLoad { systemLoad() }

    /// Sessions not ended that one tenant may hold at once.
    public static let maxLiveSessionsPerTenant = 64
    /// Turns one tenant may run at once unless the server says otherwise.
    public static let defaultMaxRunningTurnsPerTenant = 8

    /// A new session (made or forked) fits: the host's memory, and the tenant's live sessions.
    func admit(tenantId: String) throws {
        let load = systemLoad()
        if load.memoryPressure > admissionThreshold {
            logger.notice("agent session refused: memory pressure", metadata: ["tenant.id": "\(tenantId)", "system.memory_pressure": "\(load.memoryPressure)"])
            throw AgentAdmissionRefused(pressure: load.memoryPressure, retryAfterSeconds: 30)
        }
        // Each live session holds a history, an event log and, while a turn runs, a provider stream:
        // one tenant may not take the whole server's.
        guard try store.liveSessionCount(tenantId: tenantId) < Self.maxLiveSessionsPerTenant else {
            throw HearthError(.quotaExceeded, "this tenant has \(Self.maxLiveSessionsPerTenant) live agent sessions; end one first")
        }
    }

    public func create(_ request: CreateAgentSession) async throws -> AgentSessionRecord {
        guard AgentSessionRecord.idleTimeoutRange.contains(request.idleTimeoutSeconds) else {
            throw HearthError(.invalidArgument, "idle_timeout_seconds must be between 300 and 604800")
        }
        if let budget = request.budgetTokens, budget <= 0 { throw HearthError(.invalidArgument, "budget_tokens must be positive") }
        try admit(tenantId: request.tenantId)
        guard try store.provider(tenantId: request.tenantId, name: request.provider) != nil else {
            throw HearthError(.notFound, "no provider \(request.provider) in this tenant")
        }
        let workspaceId: String
        if let ref = request.workspace {
            // Deleting is for a workspace the session made: a session attached to an existing one
            // (perhaps a colleague's) must not remove it when it goes idle.
            guard request.onIdle != .delete else {
                throw HearthError(.invalidArgument, "on_idle delete is only for a session's own new workspace; use pause for an existing one")
            }
            workspaceId = try await workspaces.resolve(ref, tenantId: request.tenantId)
        } else {
            var create = request.newWorkspace ?? CreateWorkspace()
            create.tenantId = request.tenantId
            guard case .workspace(let made) = try await workspaces.perform(.create(create)) else {
                throw HearthError(.internal, "the workspace was not made")
            }
            workspaceId = made.id
        }
        let now = clock.now()
        let session = AgentSessionRecord(id: AgentSessionRecord.newID(), tenantId: request.tenantId, userId: request.userId, provider: request.provider,
                                         model: request.model, workspaceId: workspaceId, systemPrompt: request.systemPrompt,
                                         idleTimeoutSeconds: request.idleTimeoutSeconds, onIdle: request.onIdle, budgetTokens: request.budgetTokens,
                                         tokensUsed: 0, state: .idle, endReason: nil, createdAt: now, lastActivityAt: now,
                                         extraFields: request.extraFieldsJSON)
        try store.insert(session)
        try events.append(session.id, .status, ["status": .string("created"), "workspace": .string(workspaceId), "model": .string(request.model)])
        logger.info("agent session created", metadata: ["agent.session": "\(session.id)", "tenant.id": "\(session.tenantId)", "workspace.id": "\(workspaceId)"])
        return session
    }

    public func get(_ id: String, tenantId: String) throws -> AgentSessionRecord {
        guard let session = try store.session(id, tenantId: tenantId) else { throw HearthError(.notFound, "no agent session \(id)") }
        return session
    }

    public func list(tenantId: String) throws -> [AgentSessionRecord] { try store.sessions(tenantId: tenantId) }

    /// Stores the user's message (once per idempotency key) and starts a turn. A repeated key
    /// returns the first message's event and starts nothing.
    /// `userId` is the member sending: the turn spends their own provider key if they set one.
    public func send(_ id: String, tenantId: String, userId: String? = nil, text: String, idempotencyKey: String?) async throws -> (event: AgentEvent, duplicate: Bool) {
        let session = try get(id, tenantId: tenantId)
        guard session.state != .ended else { throw HearthError(.conflict, "the session has ended") }
        if let idempotencyKey, let earlier = try duplicate(of: idempotencyKey, in: id) { return (earlier, true) }
        try checkMaySend(session)
        try checkNotRearranging(id)
        if try store.latestCheckpoint(id) == nil {
            // Step 0 (the workspace committed before the first message) is what "rewind to the
            // start" goes back to. Held meanwhile, so a second send waits for nothing and is refused.
            try beginRearranging(id)
            await checkpoints.recordStart(session)
            rearranging.remove(id)
            // Again: other calls ran while the step was recorded.
            try checkMaySend(try get(id, tenantId: tenantId))
        }
        let (event, duplicate) = try events.appendMessage(id, ["role": .string("user"), "text": .string(text)], idempotencyKey: idempotencyKey)
        if duplicate { return (event, true) }
        let busy = try store.update(id) { record in
            record.state = .busy
            record.lastActivityAt = clock.now()
            record.turnUserId = userId ?? record.userId
        }
        try events.append(id, .agentBusy, [:])
        guard runner.start(busy) else {
            try store.update(id) { $0.state = .idle }
            try events.append(id, .agentIdle, ["outcome": .string(AgentTurnOutcome.failed.rawValue)])
            throw HearthError(.runtimeUnavailable, "the server is stopping")
        }
        return (event, false)
    }

    /// Checked before the message (or step 0) is stored, so a refused send leaves nothing behind
    /// and can be sent again (with the same idempotency key). The actor runs no other send between
    /// the last check and `runner.start` (no suspension), so the tenant's running-turn cap holds.
    private func checkMaySend(_ session: AgentSessionRecord) throws {
        guard session.state != .ended else { throw HearthError(.conflict, "the session has ended") }
        guard session.state == .idle, !runner.isRunning(session.id) else { throw HearthError(.conflict, "a turn is running; cancel it or wait") }
        guard !rewindingWorkspaces.contains(session.workspaceId) else {
            throw HearthError(.conflict, "another agent session is rewinding this workspace; try again in a moment")
        }
        let running = runner.runningCount(tenantId: session.tenantId)
        guard running < maxRunningTurnsPerTenant else {
            logger.notice("agent message refused: tenant's running-turn cap", metadata: ["agent.session": "\(session.id)", "tenant.id": "\(session.tenantId)",
                                                                                        "agent.running_turns": "\(running)"])
            throw HearthError(.tooManyRunningTurns, "this tenant has \(maxRunningTurnsPerTenant) agent turns running; wait for one to end",
                              detail: "retry-after=5")
        }
    }

    private func duplicate(of key: String, in id: String) throws -> AgentEvent? {
        try store.db.read { db in
            try AgentEvent.fetchOne(db, sql: """
                SELECT e.* FROM agentEvent e JOIN agentIdempotency k ON k.sessionId = e.sessionId AND k.seq = e.seq
                WHERE k.sessionId = ? AND k.key = ?
                """, arguments: [id, key])
        }
    }

    /// Cancels the running turn; false when none runs.
    public func cancel(_ id: String, tenantId: String) throws -> Bool {
        _ = try get(id, tenantId: tenantId)
        return runner.cancel(id)
    }

    /// Deletes the session and its transcript. Its workspace stays.
    public func delete(_ id: String, tenantId: String) throws {
        _ = try get(id, tenantId: tenantId)
        try checkNotRearranging(id)
        runner.cancel(id)
        events.close(id)
        try store.delete(id)
        logger.info("agent session deleted", metadata: ["agent.session": "\(id)"])
    }

    /// Ends every idle session whose idle timeout has passed, pausing or deleting its workspace.
    @discardableResult
    public func sweepIdle() async -> [String] {
        let now = clock.now()
        guard let sessions = try? store.sessions() else { return [] }
        var ended: [String] = []
        for session in sessions where session.state == .idle && !runner.isRunning(session.id) && !rearranging.contains(session.id) {
            let deadline = session.lastActivityAt.addingTimeInterval(TimeInterval(session.idleTimeoutSeconds))
            guard deadline <= now else { continue }
            do {
                // Read again under the write: a rewind or a message since the list was read moved
                // the session's last activity on, or took it from idle.
                var stillDue = false
                try store.update(session.id) { record in
                    guard record.state == .idle, record.lastActivityAt.addingTimeInterval(TimeInterval(record.idleTimeoutSeconds)) <= now else { return }
                    stillDue = true
                    record.state = .ended
                    record.endReason = "idle_timeout"
                }
                guard stillDue else { continue }
                let action: WorkspaceAction = session.onIdle == .delete ? .delete(session.workspaceId) : .pause(session.workspaceId)
                var workspaceOutcome = session.onIdle == .delete ? "deleted" : "paused"
                do { _ = try await workspaces.perform(action) } catch {
                    workspaceOutcome = "unchanged"
                    logger.warning("idle session's workspace not changed", metadata: ["agent.session": "\(session.id)", "workspace.id": "\(session.workspaceId)",
                                                                                       "error": "\(error)"])
                }
                try events.append(session.id, .exit, ["reason": .string("idle_timeout"), "workspace": .string(workspaceOutcome)])
                logger.info("agent session ended: idle timeout", metadata: ["agent.session": "\(session.id)", "workspace.outcome": "\(workspaceOutcome)"])
                ended.append(session.id)
            } catch {
                logger.error("idle session not ended", metadata: ["agent.session": "\(session.id)", "error": "\(error)"])
            }
        }
        return ended
    }
}
