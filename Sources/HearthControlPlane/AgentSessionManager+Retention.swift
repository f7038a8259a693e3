import Foundation
import HearthCore
import Logging

/// Retention (issue 18): a tenant keeps its ended sessions' transcripts (the default), or only
/// their metadata and the audit log.
extension AgentSessionManager {
    /// Sessions purged in one sweep; the rest wait for the next (30 s later by default).
    static let purgesPerSweep = 32

    public func retention(tenantId: String) throws -> AgentRetention { try store.retention(tenantId: tenantId) }

    /// Sets the tenant's retention (the API layer has checked the caller is its admin). Sessions
    /// that ended already are purged by the next sweep too.
    public func setRetention(_ mode: AgentRetention, tenantId: String) throws {
        try store.setRetention(mode, tenantId: tenantId, at: clock.now())
        logger.info("agent retention set", metadata: ["tenant.id": "\(tenantId)", "agent.retention": "\(mode.rawValue)"])
    }

    /// Purges the content of ended sessions whose tenant keeps only metadata. Run by the runner's
    /// sweep after idle sessions are ended, so an ended session's content is gone within a sweep.
    @discardableResult
    public func purgeEndedContent() -> [String] {
        guard let ids = try? store.sessionsToPurge(limit: Self.purgesPerSweep) else { return [] }
        var purged: [String] = []
        for id in ids where !rearranging.contains(id) {
            do {
                try store.purgeContent(id, at: clock.now())
                try events.append(id, .status, ["status": .string("content_purged")])
                logger.info("agent session content purged", metadata: ["agent.session": "\(id)"])
                purged.append(id)
            } catch {
                logger.error("agent session content not purged", metadata: ["agent.session": "\(id)", "error": "\(error)"])
            }
        }
        return purged
    }
}
