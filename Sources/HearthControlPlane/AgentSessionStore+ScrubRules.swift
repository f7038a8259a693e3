public import Foundation
import GRDB

/// A tenant's own scrub rules, stored as the API layer hands them (a JSON array it has checked);
/// the server checks them again each time it builds a scrubber from them.
extension AgentSessionStore {
    public func scrubRules(tenantId: String) throws -> String? {
        try db.read { db in try String.fetchOne(db, sql: "SELECT rules FROM agentScrubRules WHERE tenantId = ?", arguments: [tenantId]) }
    }

    public func setScrubRules(_ json: String, tenantId: String, at: Date) throws {
        try db.write { db in
            try db.execute(sql: """
                INSERT INTO agentScrubRules (tenantId, rules, updatedAt) VALUES (?, ?, ?)
                ON CONFLICT(tenantId) DO UPDATE SET rules = excluded.rules, updatedAt = excluded.updatedAt
                """, arguments: [tenantId, json, at])
        }
    }
}
