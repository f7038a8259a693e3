import HearthCore
public import Logging
public import ServiceLifecycle
import Synchronization

/// The `Service` that owns live sessions (terminals now; agent event streams, pairing rooms and
/// LSP channels next) and runs their long-lived work as child tasks of its own `run()`, so no
/// session task outlives the hub: shutting the service group down ends every session.
///
/// Lifecycle (`SessionHub.State`): `idle` (made; work submitted now runs once the hub starts) →
/// `running` → `stopping` (graceful shutdown or cancellation: nothing new is accepted and every
/// session is ended) → `stopped`. Every other transition is refused.
public final class SessionHub: Service, Sendable {
    public enum State: String, Sendable, Equatable {
        case idle, running, stopping, stopped

        /// The state after `event`, or nil if the hub cannot take it from here.
        public func next(_ event: Event) -> State? {
            switch (self, event) {
            case (.idle, .start): .running
            case (.idle, .stop), (.running, .stop): .stopping
            case (.stopping, .stopped): .stopped
            default: nil
            }
        }
    }

    public enum Event: String, Sendable { case start, stop, stopped }

    public let terminals: TerminalHub
    let runner: SessionRunner

    public init(logger: Logger = Logger(label: "hearth.sessions"), stallLimit: Duration = Terminal.defaultStallLimit) {
        runner = SessionRunner(logger: logger)
        terminals = TerminalHub(stallLimit: stallLimit, runner: runner)
    }

    public var state: State { runner.state }

    public func run() async throws {
        guard runner.transition(.start) else { return }
        await withDiscardingTaskGroup { group in
            // Graceful shutdown finishes the stream of work; cancellation ends its iteration.
            await withGracefulShutdownHandler {
                for await work in runner.work.stream {
                    group.addTask { await work() }
                }
            } onGracefulShutdown: { [runner] in
                runner.stopAccepting()
            }
            runner.stopAccepting()
            // Sessions' tasks end when their sessions do; the group waits for them.
            await terminals.endAll("the server is shutting down")
            // A terminal waiting for its paused workspace is waiting on nothing now.
            group.cancelAll()
        }
        runner.transition(.stopped)
    }
}

/// The hub's state and its queue of work, shared with the session kinds that submit work.
final class SessionRunner: Sendable {
    typealias Work = @Sendable () async -> Void

    let logger: Logger
    private let current = Mutex(SessionHub.State.idle)
    let work = AsyncStream<Work>.makeStream()

    init(logger: Logger) {
        self.logger = logger
    }

    var state: SessionHub.State { current.withLock { $0 } }

    /// Applies `event`; false (and no change) if the state machine refuses it.
    @discardableResult
    func transition(_ event: SessionHub.Event) -> Bool {
        let (from, to) = current.withLock { state -> (SessionHub.State, SessionHub.State?) in
            let next = state.next(event)
            if let next { state = next }
            return (state, next)
        }
        if let to {
            logger.info("session hub state changed", metadata: ["sessions.state": .string(to.rawValue), "sessions.event": .string(event.rawValue)])
        } else {
            logger.debug("session hub transition refused", metadata: ["sessions.state": .string(from.rawValue), "sessions.event": .string(event.rawValue)])
        }
        return to != nil
    }

    /// Runs `work` as a child of the hub's `run()`. Refused once the hub is stopping.
    func submit(_ work: @escaping Work) throws {
        let accepting = current.withLock { $0 == .idle || $0 == .running }
        guard accepting, case .enqueued = self.work.continuation.yield(work) else {
            logger.notice("session refused: the hub is stopping", metadata: ["sessions.state": .string(state.rawValue)])
            throw HearthError(.agentUnavailable, "the server is shutting down")
        }
    }

    func stopAccepting() {
        if transition(.stop) { work.continuation.finish() }
    }
}
