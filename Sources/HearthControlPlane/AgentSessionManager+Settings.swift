import Foundation
import HearthCore

extension AgentSessionManager {
    /// Changes how long the session may sit idle before it ends (5 minutes to 7 days). Counted
    /// from its last activity, so a shorter timeout may end it at the next sweep.
    public func setIdleTimeout(_ id: String, tenantId: String, seconds: Int) throws -> AgentSessionRecord {
        let session = try get(id, tenantId: tenantId)
        guard session.state != .ended else { throw HearthError(.conflict, "the session has ended") }
        guard AgentSessionRecord.idleTimeoutRange.contains(seconds) else {
            throw HearthError(.invalidArgument, "idle_timeout_seconds is \(AgentSessionRecord.idleTimeoutRange.lowerBound) to \(AgentSessionRecord.idleTimeoutRange.upperBound)")
        }
        return try store.update(id) { record in
            // Ended meanwhile (a sweep between the read and this write): left as it is.
            guard record.state != .ended else { return }
            record.idleTimeoutSeconds = seconds
        }
    }
}
