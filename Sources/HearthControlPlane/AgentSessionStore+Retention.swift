public import Foundation
import GRDB
import HearthAgentCore
import HearthCore

/// Retention (issue 18): what each tenant keeps of its ended sessions, and the purge of content.
extension AgentSessionStore {
    public func retention(tenantId: String) throws -> AgentRetention {
        let mode = try db.read { db in
            try String.fetchOne(db, sql: "SELECT mode FROM agentRetention WHERE tenantId = ?", arguments: [tenantId])
        }
        return mode.flatMap(AgentRetention.init(rawValue:)) ?? .transcripts
    }

    public func setRetention(_ mode: AgentRetention, tenantId: String, at: Date) throws {
        try db.write { db in
            try db.execute(sql: """
                INSERT INTO agentRetention (tenantId, mode, updatedAt) VALUES (?, ?, ?)
                ON CONFLICT(tenantId) DO UPDATE SET mode = excluded.mode, updatedAt = excluded.updatedAt
                """, arguments: [tenantId, mode.rawValue, at])
        }
    }

    /// Ended sessions, not yet purged, of tenants that keep only metadata: at most `limit`.
    func sessionsToPurge(limit: Int) throws -> [String] {
        try db.read { db in
            try String.fetchAll(db, sql: """
                SELECT s.id FROM agentSession s JOIN agentRetention r ON r.tenantId = s.tenantId
                WHERE s.state = ? AND s.contentPurgedAt IS NULL AND r.mode = ? LIMIT ?
                """, arguments: [AgentSessionRecord.State.ended.rawValue, AgentRetention.metadata.rawValue, max(1, limit)])
        }
    }

    /// Takes the content out of an ended session in one transaction: the text of messages and
    /// thinking, tool arguments and outputs, error messages, the provider-facing history, the
    /// system prompt and the idempotency keys. What remains is metadata: each event's kind, time
    /// and sequence number, roles, tool names and outcomes, usage, scrub counts, steps.
    func purgeContent(_ sessionId: String, at: Date) throws {
        // Tool names and call ids are the model's text: only a known name is kept, no id.
        let names = AgentWorkspaceTools.specs.map { "'\($0.name)'" }.joined(separator: ", ")
        let name = "CASE WHEN json_extract(data, '$.name') IN (\(names)) THEN json_extract(data, '$.name') ELSE 'unknown' END"
        try db.write { db in
            let purged = "json('true')"
            try db.execute(sql: """
                UPDATE agentEvent SET data = json_object('role', json_extract(data, '$.role'), 'text', '', 'purged', \(purged))
                WHERE sessionId = ? AND type IN ('message', 'thinking')
                """, arguments: [sessionId])
            try db.execute(sql: """
                UPDATE agentEvent SET data = json_object('name', \(name), 'arguments', '',
                  'purged', \(purged))
                WHERE sessionId = ? AND type = 'tool_call'
                """, arguments: [sessionId])
            try db.execute(sql: """
                UPDATE agentEvent SET data = json_object('name', \(name), 'content', '',
                  'is_error', json(CASE WHEN json_extract(data, '$.is_error') THEN 'true' ELSE 'false' END),
                  'exit_code', json_extract(data, '$.exit_code'), 'duration_ms', json_extract(data, '$.duration_ms'), 'purged', \(purged))
                WHERE sessionId = ? AND type = 'tool_result'
                """, arguments: [sessionId])
            try db.execute(sql: """
                UPDATE agentEvent SET data = json_object('code', json_extract(data, '$.code'), 'message', '', 'purged', \(purged))
                WHERE sessionId = ? AND type = 'error_event'
                """, arguments: [sessionId])
            try db.execute(sql: "DELETE FROM agentHistory WHERE sessionId = ?", arguments: [sessionId])
            try db.execute(sql: "DELETE FROM agentIdempotency WHERE sessionId = ?", arguments: [sessionId])
            try db.execute(sql: "UPDATE agentSession SET systemPrompt = '', extraFields = NULL, contentPurgedAt = ? WHERE id = ?", arguments: [at, sessionId])
        }
    }
}
