import Foundation
import HearthCore
public import Logging
public import ServiceLifecycle
import Synchronization

/// Runs one turn of a session: reads the transcript from the store, talks to the provider, runs
/// tools, and writes every step through the hub. Cancellation of the calling task cancels the turn.
public protocol AgentTurnDriver: Sendable {
    func runTurn(_ session: AgentSessionRecord, events: AgentEventHub) async throws -> AgentTurnOutcome
}

/// How a turn ended, as `agent_idle`'s `outcome` says.
public enum AgentTurnOutcome: String, Sendable {
    case completed
    case cancelled
    case failed
    case budgetExceeded = "budget_exceeded"
    case stepLimit = "step_limit"
    case loopDetected = "loop_detected"
}

/// The Service that runs turns, each a child task of `run()`, whether or not anyone watches, and
/// sweeps idle sessions. Stopping the server cancels every turn; the next start closes the tool
/// calls they left open (`AgentSessionManager.recover`).
public final class AgentSessionRunner: Service, Sendable {
    enum Command: Sendable {
        case start(AgentSessionRecord, AsyncStream<Void>)
    }

    let events: AgentEventHub
    let driver: any AgentTurnDriver
    let logger: Logger
    let sweepEvery: Duration
    let commands: AsyncStream<Command>
    let commandSink: AsyncStream<Command>.Continuation
    /// A running turn: its tenant (for the per-tenant cap) and its cancel signal.
    struct Running: Sendable {
        var tenantId: String
        var cancel: AsyncStream<Void>.Continuation
    }
    /// Each running turn, by session id.
    let running = Mutex<[String: Running]>([:])
    let sweep: @Sendable () async -> Void

    public init(events: AgentEventHub, driver: any AgentTurnDriver, logger: Logger, sweepEvery: Duration = .seconds(30),
                sweep: @escaping @Sendable () async -> Void = {}) {
        self.events = events
        self.driver = driver
        self.logger = logger
        self.sweepEvery = sweepEvery
        self.sweep = sweep
        (commands, commandSink) = AsyncStream<Command>.makeStream()
    }

    /// Starts a turn; false when one is running for this session already.
    func start(_ session: AgentSessionRecord) -> Bool {
        let (signal, sink) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let started = running.withLock { running in
            guard running[session.id] == nil else { return false }
            running[session.id] = Running(tenantId: session.tenantId, cancel: sink)
            return true
        }
        guard started else { return false }
        if case .terminated = commandSink.yield(.start(session, signal)) {
            _ = running.withLock { $0.removeValue(forKey: session.id) }
            return false
        }
        return true
    }

    /// Cancels the running turn; false when none runs.
    @discardableResult
    func cancel(_ sessionId: String) -> Bool {
        guard let turn = running.withLock({ $0[sessionId] }) else { return false }
        turn.cancel.yield()
        return true
    }

    func isRunning(_ sessionId: String) -> Bool { running.withLock { $0[sessionId] != nil } }

    /// Turns running now in one tenant's sessions.
    public func runningCount(tenantId: String) -> Int {
        running.withLock { running in running.values.reduce(0) { $0 &+ ($1.tenantId == tenantId ? 1 : 0) } }
    }

    public func run() async throws {
        let sweepEvery = self.sweepEvery
        let sweep = self.sweep
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: sweepEvery)
                    if Task.isCancelled { break }
                    await sweep()
                }
            }
            await withGracefulShutdownHandler {
                for await command in commands {
                    switch command {
                    case .start(let session, let signal):
                        group.addTask { await self.turn(session, cancelSignal: signal) }
                    }
                }
            } onGracefulShutdown: {
                self.commandSink.finish()
                for turn in self.running.withLock({ Array($0.values) }) { turn.cancel.yield() }
            }
            group.cancelAll()
        }
    }

    private func turn(_ session: AgentSessionRecord, cancelSignal: AsyncStream<Void>) async {
        let id = session.id
        let logger = self.logger
        logger.info("agent turn started", metadata: ["agent.session": "\(id)"])
        let outcome: AgentTurnOutcome = await withTaskGroup(of: AgentTurnOutcome?.self) { group in
            group.addTask {
                do {
                    let outcome = try await self.driver.runTurn(session, events: self.events)
                    return Task.isCancelled ? .cancelled : outcome
                } catch {
                    if Task.isCancelled || error is CancellationError { return .cancelled }
                    let hearth = (error as? HearthError) ?? HearthError(.internal, "the turn failed", detail: "\(error)")
                    logger.warning("agent turn failed", metadata: ["agent.session": "\(id)", "error.code": "\(hearth.code.rawValue)",
                                                                   "error.detail": "\(hearth.detail ?? hearth.message)"])
                    _ = try? self.events.append(id, .errorEvent, ["code": .string(hearth.code.rawValue), "message": .string(hearth.message)])
                    return .failed
                }
            }
            group.addTask {
                for await _ in cancelSignal { return nil }
                return nil
            }
            var outcome: AgentTurnOutcome = .cancelled
            while let next = await group.next() {
                if let next { outcome = next; break }
                // The cancel signal came first: cancel the turn and wait for it to end.
                group.cancelAll()
            }
            group.cancelAll()
            return outcome
        }
        _ = running.withLock { $0.removeValue(forKey: id) }
        do {
            try events.endDelta(id)
            try events.store.update(id) { record in
                if record.state == .busy { record.state = .idle }
                record.lastActivityAt = events.clock.now()
            }
            try events.append(id, .agentIdle, ["outcome": .string(outcome.rawValue)])
        } catch {
            logger.error("agent turn end not recorded", metadata: ["agent.session": "\(id)", "error": "\(error)"])
        }
        logger.info("agent turn ended", metadata: ["agent.session": "\(id)", "agent.outcome": "\(outcome.rawValue)"])
    }
}

/// What a turn driver may use: the store (transcript, provider records), the key sealer (to open
/// the key on the host, in memory, for the provider call only) and the workspaces (tools).
public struct AgentTurnEnvironment: Sendable {
    public let store: AgentSessionStore
    public let keys: any AgentKeySealer
    public let workspaces: WorkspaceManager
    public let logger: Logger
    /// Records an agent step in the audit log: (session, action, target, result). Never content.
    public let audit: @Sendable (AgentSessionRecord, String, String, String) -> Void

    public init(store: AgentSessionStore, keys: any AgentKeySealer, workspaces: WorkspaceManager, logger: Logger,
                audit: @escaping @Sendable (AgentSessionRecord, String, String, String) -> Void = { _, _, _, _ in }) {
        self.store = store
        self.keys = keys
        self.workspaces = workspaces
        self.logger = logger
        self.audit = audit
    }
}

/// The driver of a server built without a provider client: every turn fails, plainly.
public struct UnavailableTurnDriver: AgentTurnDriver {
    public init() {}
    public func runTurn(_ session: AgentSessionRecord, events: AgentEventHub) async throws -> AgentTurnOutcome {
        throw HearthError(.runtimeUnavailable, "this server has no provider client")
    }
}
