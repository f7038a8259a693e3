import HearthCore
import HearthRuntime
import Logging

/// What an operator sees of the lifecycle: one log line per transition (workspace, tenant,
/// runtime, duration), one latency sample per operation and runtime, a failure counted by reason,
/// and the state gauges, refreshed when `/metrics` is read.
extension WorkspaceManager {
    /// Runs a create, timing it from the request to a ready workspace.
    func observedCreate(_ request: CreateWorkspace, _ body: () async throws -> Workspace) async throws -> Workspace {
        let start = ContinuousClock.now
        let runtime = request.runtime ?? registry.defaultRuntime
        do {
            let workspace = try await body()
            finished(.create, id: workspace.id, tenantId: request.tenantId, runtime: workspace.runtime, since: start)
            return workspace
        } catch {
            failed(.create, id: nil, tenantId: request.tenantId, runtime: runtime, since: start, error: error)
            throw error
        }
    }

    /// Runs a lifecycle operation on the workspace `ref` names.
    func observed<T>(_ operation: WorkspaceMetrics.Operation, _ ref: String, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        let known = try? store.find(ref)
        do {
            let result = try await body()
            if let known { finished(operation, id: known.id, tenantId: known.tenantId, runtime: known.runtime, since: start) }
            return result
        } catch {
            failed(operation, id: known?.id, tenantId: known?.tenantId, runtime: known?.runtime, since: start, error: error)
            throw error
        }
    }

    private func finished(_ operation: WorkspaceMetrics.Operation, id: String, tenantId: String, runtime: RuntimeKind, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        metrics.operation(operation, runtime: runtime, succeeded: true, seconds: elapsed)
        logger.info("workspace \(operation.pastTense)", metadata: [
            "workspace.id": "\(id)", "tenant.id": "\(tenantId)", "runtime": "\(runtime.rawValue)",
            "duration.ms": "\(Self.milliseconds(elapsed))",
        ])
    }

    /// A refusal (the request was wrong or not allowed) is logged as one; anything else failed
    /// the operation, and is counted by reason.
    private func failed(_ operation: WorkspaceMetrics.Operation, id: String?, tenantId: String?, runtime: RuntimeKind?,
                        since start: ContinuousClock.Instant, error: any Error) {
        let elapsed = ContinuousClock.now - start
        let hearthError = error as? HearthError
        var metadata: Logger.Metadata = [
            "workspace.operation": "\(operation.rawValue)", "error.code": "\(hearthError?.code.rawValue ?? "internal")",
            "duration.ms": "\(Self.milliseconds(elapsed))",
        ]
        if let id { metadata["workspace.id"] = "\(id)" }
        if let tenantId { metadata["tenant.id"] = "\(tenantId)" }
        if let runtime { metadata["runtime"] = "\(runtime.rawValue)" }
        if let code = hearthError?.code, Self.refusals.contains(code) {
            metadata["error.message"] = "\(hearthError?.message ?? "")"
            logger.notice("workspace \(operation.rawValue) refused", metadata: metadata)
            return
        }
        metadata["error.detail"] = "\(hearthError?.detail ?? hearthError?.message ?? "\(error)")"
        logger.error("workspace \(operation.rawValue) failed", metadata: metadata)
        if let runtime {
            metrics.operation(operation, runtime: runtime, succeeded: false, seconds: elapsed)
            metrics.failure(.init(operation), runtime: runtime)
        }
    }

    /// Errors that say the request was refused, not that the workspace or the host failed.
    static let refusals: Set<HearthError.Code> = [.invalidArgument, .notFound, .conflict, .forbidden, .quotaExceeded, .unauthorized]

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let whole = seconds.multipliedReportingOverflow(by: 1000)
        return whole.overflow ? .max : whole.partialValue &+ attoseconds / 1_000_000_000_000_000
    }

    /// Sets the gauges that describe now rather than count events: workspaces by state and the
    /// warm pool's size. Called when `/metrics` is read, so they are never stale or drifted.
    public func refreshMetrics() {
        guard let records = try? store.all(includePooled: true) else { return }
        var byState: [WorkspaceState: Int] = [:]
        for record in records where !record.pooled { byState[record.state, default: 0] &+= 1 }
        metrics.workspaces(byState)
        if configuration.warmPoolSize > 0, let kind = registry.defaultRuntime {
            metrics.poolSize(records.filter { $0.pooled && $0.state == .running }.count, runtime: kind)
        }
    }

    /// Counts `agent`'s traffic under its workspace's runtime.
    func meterTraffic(of agent: AgentConnection, workspace id: String) {
        guard let runtime = (try? store.find(id))?.runtime else { return }
        agent.countTraffic(metrics.channelTraffic(runtime: runtime))
    }
}
