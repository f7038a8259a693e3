import Foundation
import GRDB
import HearthCore

/// The steps of a session (`AgentCheckpoint`), and the two changes made from one: a rewind (the
/// history cut back to it) and a fork (a new session that starts as it).
extension AgentSessionStore {
    public func checkpoints(_ sessionId: String, after: Int? = nil, limit: Int = 1000) throws -> [AgentCheckpoint] {
        try db.read { db in
            var request = AgentCheckpoint.filter(Column("sessionId") == sessionId)
            if let after { request = request.filter(Column("step") > after) }
            return try request.order(Column("step")).limit(max(1, limit)).fetchAll(db)
        }
    }

    public func checkpoint(_ sessionId: String, step: Int) throws -> AgentCheckpoint? {
        try db.read { db in try AgentCheckpoint.filter(Column("sessionId") == sessionId && Column("step") == step).fetchOne(db) }
    }

    public func latestCheckpoint(_ sessionId: String) throws -> AgentCheckpoint? {
        try db.read { db in try AgentCheckpoint.filter(Column("sessionId") == sessionId).order(Column("step").desc).fetchOne(db) }
    }

    func historyCount(_ sessionId: String) throws -> Int {
        try db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM agentHistory WHERE sessionId = ?", arguments: [sessionId]) ?? 0 }
    }

    func insert(_ checkpoint: AgentCheckpoint) throws {
        try db.write { db in try checkpoint.insert(db) }
    }

    /// Cuts the provider-facing history back to `checkpoint` and forgets the later steps, in one
    /// transaction. The event log is not touched: a `rewind` event marks what no longer counts.
    func rewind(_ sessionId: String, to checkpoint: AgentCheckpoint) throws {
        try db.write { db in
            try db.execute(sql: """
                DELETE FROM agentHistory WHERE sessionId = ? AND id NOT IN
                  (SELECT id FROM agentHistory WHERE sessionId = ? ORDER BY id LIMIT ?)
                """, arguments: [sessionId, sessionId, max(0, checkpoint.historyCount)])
            try db.execute(sql: "DELETE FROM agentCheckpoint WHERE sessionId = ? AND step > ?", arguments: [sessionId, checkpoint.step])
            // A message sent after the step is no longer in the conversation: sending it again
            // with its key sends it anew rather than pointing at what was taken out.
            try db.execute(sql: "DELETE FROM agentIdempotency WHERE sessionId = ? AND seq > ?", arguments: [sessionId, checkpoint.seq])
        }
    }

    /// What a fork at `checkpoint` copies, in bytes: the events up to it and its history.
    func conversationBytes(_ sessionId: String, through checkpoint: AgentCheckpoint) throws -> Int64 {
        try db.read { db in
            let events = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(CAST(data AS BLOB))), 0) FROM agentEvent WHERE sessionId = ? AND seq <= ?",
                                            arguments: [sessionId, checkpoint.seq]) ?? 0
            let history = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(LENGTH(CAST(message AS BLOB))), 0) FROM
                  (SELECT message FROM agentHistory WHERE sessionId = ? ORDER BY id LIMIT ?)
                """, arguments: [sessionId, max(0, checkpoint.historyCount)]) ?? 0
            return events &+ history
        }
    }

    /// Inserts `session` as a copy of `source` at `checkpoint`, in one transaction: the events up to
    /// the checkpoint's (same sequence numbers), the first `historyCount` history messages, and the
    /// steps up to it. Only the last step keeps files, as `generation` of the new session's own
    /// workspace; the earlier ones' files are in the source's workspace.
    func insertFork(_ session: AgentSessionRecord, of source: String, at checkpoint: AgentCheckpoint, generation: Int64?,
                    forkedEvent data: String) throws {
        try db.write { db in
            try session.insert(db)
            // No one reads a session that does not exist yet: its first own event is stored here,
            // in the same transaction, not published.
            try AgentEvent(sessionId: session.id, seq: checkpoint.seq &+ 1, type: .status, data: data, at: session.createdAt).insert(db)
            try db.execute(sql: """
                INSERT INTO agentEvent (sessionId, seq, type, data, at)
                SELECT ?, seq, type, data, at FROM agentEvent WHERE sessionId = ? AND seq <= ? ORDER BY seq
                """, arguments: [session.id, source, checkpoint.seq])
            try db.execute(sql: """
                INSERT INTO agentHistory (sessionId, message)
                SELECT ?, message FROM agentHistory WHERE sessionId = ? ORDER BY id LIMIT ?
                """, arguments: [session.id, source, max(0, checkpoint.historyCount)])
            try db.execute(sql: """
                INSERT INTO agentCheckpoint (sessionId, step, kind, seq, historyCount, generation, at)
                SELECT ?, step, kind, seq, historyCount, CASE WHEN step = ? THEN ? ELSE NULL END, at
                FROM agentCheckpoint WHERE sessionId = ? AND step <= ?
                """, arguments: [session.id, checkpoint.step, generation, source, checkpoint.step])
        }
    }
}

extension AgentSessionStore {
    /// The events that rewinds took out of the conversation: for each `rewind` event, the events
    /// after its step's `checkpoint` event and before it.
    public func rewoundRanges(_ sessionId: String) throws -> [ClosedRange<Int64>] {
        let rewinds = try db.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, data FROM agentEvent WHERE sessionId = ? AND type = ? ORDER BY seq",
                             arguments: [sessionId, AgentEventType.rewind.rawValue])
        }
        return rewinds.compactMap { row -> ClosedRange<Int64>? in
            let seq: Int64 = row["seq"]
            let data: String = row["data"]
            let fields = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any]
            guard let from = (fields?["seq"] as? Int).map(Int64.init), from < seq &- 1 else { return nil }
            return (from &+ 1)...(seq &- 1)
        }
    }
}
