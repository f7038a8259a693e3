import HearthCore
public import Metrics

/// The control plane's metrics, through a factory the server hands in (its Prometheus registry),
/// so two servers in one process never share series.
///
/// Every label comes from a closed set (operations, runtimes, states, failure reasons): never a
/// workspace id, a tenant or a message, which would grow the registry with every workspace.
public struct WorkspaceMetrics: Sendable {
    public enum Operation: String, Sendable, CaseIterable {
        case create, start, stop, pause, resume, delete

        /// The operation's result, as the log says it.
        var pastTense: String {
            switch self {
            case .create: "created"
            case .start: "started"
            case .stop: "stopped"
            case .pause: "paused"
            case .resume: "resumed"
            case .delete: "deleted"
            }
        }
    }

    /// Why a workspace, or an operation on one, failed.
    public enum FailureReason: String, Sendable, CaseIterable {
        case createFailed = "create_failed"
        case startFailed = "start_failed"
        case stopFailed = "stop_failed"
        case pauseFailed = "pause_failed"
        case resumeFailed = "resume_failed"
        case deleteFailed = "delete_failed"
        case agentProtocol = "agent_protocol"
        case agentLost = "agent_lost"
        case sandboxExited = "sandbox_exited"
        case poolBootFailed = "pool_boot_failed"

        init(_ operation: Operation) {
            self = switch operation {
            case .create: .createFailed
            case .start: .startFailed
            case .stop: .stopFailed
            case .pause: .pauseFailed
            case .resume: .resumeFailed
            case .delete: .deleteFailed
            }
        }
    }

    public static let operationSeconds = "hearth_workspace_operation_seconds"
    public static let failures = "hearth_workspace_failures_total"
    public static let workspaces = "hearth_workspaces"
    public static let poolSize = "hearth_warm_pool_size"
    public static let poolClaims = "hearth_warm_pool_claims_total"
    public static let channelBytes = "hearth_agent_channel_bytes_total"
    public static let commitSeconds = "hearth_workspace_commit_seconds"
    public static let commitBytes = "hearth_workspace_commit_bytes_total"

    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) { self.factory = factory }

    /// No metrics: for a manager made without a server.
    public static let disabled = WorkspaceMetrics(factory: NOOPMetricsHandler.instance)

    /// How long a lifecycle operation took, from request to its end state (create: to ready).
    func operation(_ operation: Operation, runtime: RuntimeKind, succeeded: Bool, seconds elapsed: Duration) {
        let dimensions = [("operation", operation.rawValue), ("runtime", runtime.rawValue), ("outcome", succeeded ? "ok" : "error")]
        Timer(label: Self.operationSeconds, dimensions: dimensions, factory: factory).record(duration: elapsed)
    }

    func failure(_ reason: FailureReason, runtime: RuntimeKind) {
        Counter(label: Self.failures, dimensions: [("reason", reason.rawValue), ("runtime", runtime.rawValue)], factory: factory).increment()
    }

    /// A create the warm pool could have served: `hit` if it did.
    func poolClaim(hit: Bool, runtime: RuntimeKind) {
        Counter(label: Self.poolClaims, dimensions: [("runtime", runtime.rawValue), ("result", hit ? "hit" : "miss")], factory: factory).increment()
    }

    func poolSize(_ size: Int, runtime: RuntimeKind) {
        Gauge(label: Self.poolSize, dimensions: [("runtime", runtime.rawValue)], factory: factory).record(size)
    }

    /// Workspaces by state, every state named (zero included) so a dashboard sees a state empty.
    func workspaces(_ counts: [WorkspaceState: Int]) {
        for state in WorkspaceState.allCases {
            Gauge(label: Self.workspaces, dimensions: [("state", state.rawValue)], factory: factory).record(counts[state] ?? 0)
        }
    }

    /// One commit of a workspace's state: `published`, `unchanged` (the head already held it) or `error`.
    func commit(trigger: CommitTrigger, result: String, seconds: Double, bytesAdded: UInt64) {
        Timer(label: Self.commitSeconds, dimensions: [("trigger", trigger.rawValue), ("result", result)], factory: factory)
            .recordNanoseconds(Int64(max(0, min(seconds, 1e9)) * 1e9))
        if bytesAdded > 0 { Counter(label: Self.commitBytes, factory: factory).increment(by: Int64(min(bytesAdded, UInt64(Int64.max)))) }
    }

    /// A sink for one agent channel's traffic: bytes of whole frames, headers included.
    func channelTraffic(runtime: RuntimeKind) -> @Sendable (_ received: Int, _ sent: Int) -> Void {
        let received = Counter(label: Self.channelBytes, dimensions: [("direction", "in"), ("runtime", runtime.rawValue)], factory: factory)
        let sent = Counter(label: Self.channelBytes, dimensions: [("direction", "out"), ("runtime", runtime.rawValue)], factory: factory)
        return { inbound, outbound in
            if inbound > 0 { received.increment(by: Int64(inbound)) }
            if outbound > 0 { sent.increment(by: Int64(outbound)) }
        }
    }
}
