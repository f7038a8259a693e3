public import Foundation
public import GRDB
import HearthCore

/// The agent sessions database (`DATA/agent-sessions.sqlite`, beside the workspace database):
/// sessions, their append-only event logs, idempotency keys and provider records. Migrations are
/// append-only.
public struct AgentSessionStore: Sendable {
    public let db: any DatabaseWriter

    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        // A stored event survives kill -9 of the server (WAL + synchronous NORMAL survives a
        // process crash; only a power loss could cost the last transactions).
        let pool = try DatabasePool(path: path, configuration: config)
        try self.init(db: pool)
    }

    public init(db: any DatabaseWriter) throws {
        self.db = db
        try Self.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: agent sessions") { db in
            try db.create(table: "agentSession") { t in
                t.primaryKey("id", .text)
                t.column("tenantId", .text).notNull().indexed()
                t.column("userId", .text).notNull()
                t.column("provider", .text).notNull()
                t.column("model", .text).notNull()
                t.column("workspaceId", .text).notNull()
                t.column("systemPrompt", .text).notNull()
                t.column("idleTimeoutSeconds", .integer).notNull()
                t.column("onIdle", .text).notNull()
                t.column("budgetTokens", .integer)
                t.column("tokensUsed", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("endReason", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("lastActivityAt", .datetime).notNull()
            }
            try db.create(table: "agentEvent") { t in
                t.column("sessionId", .text).notNull()
                t.column("seq", .integer).notNull()
                t.column("type", .text).notNull()
                t.column("data", .text).notNull()
                t.column("at", .datetime).notNull()
                t.primaryKey(["sessionId", "seq"])
            }
            try db.create(table: "agentIdempotency") { t in
                t.column("sessionId", .text).notNull()
                t.column("key", .text).notNull()
                t.column("seq", .integer).notNull()
                t.primaryKey(["sessionId", "key"])
            }
            try db.create(table: "agentProvider") { t in
                t.column("tenantId", .text).notNull()
                t.column("name", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("baseURL", .text).notNull()
                t.column("sealedKey", .blob).notNull()
                t.column("updatedAt", .datetime).notNull()
                t.primaryKey(["tenantId", "name"])
            }
        }
        // The conversation as the provider sees it (scrubbed, with tool_use/tool_result blocks),
        // apart from the client-facing events: history is rebuilt from here each turn.
        migrator.registerMigration("v2: agent history") { db in
            try db.create(table: "agentHistory") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("sessionId", .text).notNull().indexed()
                t.column("message", .text).notNull()
            }
        }
        // The steps a session can be rewound or forked to (issue 18).
        migrator.registerMigration("v3: agent checkpoints") { db in
            try db.create(table: "agentCheckpoint") { t in
                t.column("sessionId", .text).notNull()
                t.column("step", .integer).notNull()
                t.column("kind", .text).notNull()
                t.column("seq", .integer).notNull()
                t.column("historyCount", .integer).notNull()
                t.column("generation", .integer)
                t.column("at", .datetime).notNull()
                t.primaryKey(["sessionId", "step"])
            }
        }
        migrator.registerMigration("v4: agent session extra fields") { db in
            try db.alter(table: "agentSession") { t in t.add(column: "extraFields", .text) }
        }
        migrator.registerMigration("v5: agent retention") { db in
            try db.alter(table: "agentSession") { t in t.add(column: "contentPurgedAt", .datetime) }
            try db.create(table: "agentRetention") { t in
                t.primaryKey("tenantId", .text)
                t.column("mode", .text).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v6: tenant scrub rules") { db in
            try db.create(table: "agentScrubRules") { t in
                t.primaryKey("tenantId", .text)
                t.column("rules", .text).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
        }
        // Provider records' own extra fields, members' own keys, and who sent each turn (issue 18).
        migrator.registerMigration("v7: provider extras and members' keys") { db in
            try db.alter(table: "agentProvider") { t in t.add(column: "extraFields", .text) }
            try db.alter(table: "agentSession") { t in t.add(column: "turnUserId", .text) }
            try db.create(table: "agentUserKey") { t in
                t.column("tenantId", .text).notNull()
                t.column("userId", .text).notNull()
                t.column("provider", .text).notNull()
                t.column("baseURL", .text).notNull()
                t.column("sealedKey", .blob).notNull()
                t.column("updatedAt", .datetime).notNull()
                t.primaryKey(["tenantId", "userId", "provider"])
            }
        }
        return migrator
    }

    // MARK: Provider-facing history

    public func appendHistory(_ sessionId: String, _ messageJSON: String) throws {
        try db.write { db in
            try db.execute(sql: "INSERT INTO agentHistory (sessionId, message) VALUES (?, ?)", arguments: [sessionId, messageJSON])
        }
    }

    public func history(_ sessionId: String) throws -> [String] {
        try db.read { db in
            try String.fetchAll(db, sql: "SELECT message FROM agentHistory WHERE sessionId = ? ORDER BY id", arguments: [sessionId])
        }
    }

    /// The newest history messages whose JSON texts together fit `budgetBytes`, oldest first, read
    /// newest first so an old, long history is never loaded whole; `omitted` counts the older ones
    /// left out (they stay stored). A single newest message above the budget is left out too.
    public func recentHistory(_ sessionId: String, budgetBytes: Int) throws -> (messages: [String], omitted: Int) {
        try db.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM agentHistory WHERE sessionId = ?", arguments: [sessionId]) ?? 0
            var kept: [String] = []
            var bytes = 0
            let rows = try String.fetchCursor(db, sql: "SELECT message FROM agentHistory WHERE sessionId = ? ORDER BY id DESC", arguments: [sessionId])
            while let message = try rows.next() {
                let (sum, overflow) = bytes.addingReportingOverflow(message.utf8.count)
                guard !overflow, sum <= budgetBytes else { break }
                bytes = sum
                kept.append(message)
            }
            return (kept.reversed(), max(0, total &- kept.count))
        }
    }

    // MARK: Sessions

    public func insert(_ session: AgentSessionRecord) throws {
        try db.write { db in try session.insert(db) }
    }

    /// The session `id` within `tenantId` (nil: any tenant, for the control plane's own
    /// bookkeeping). Another tenant's session is not found.
    public func session(_ id: String, tenantId: String? = nil) throws -> AgentSessionRecord? {
        try db.read { db in
            var request = AgentSessionRecord.filter(Column("id") == id)
            if let tenantId { request = request.filter(Column("tenantId") == tenantId) }
            return try request.fetchOne(db)
        }
    }

    public func sessions(tenantId: String? = nil) throws -> [AgentSessionRecord] {
        try db.read { db in
            var request = AgentSessionRecord.order(Column("createdAt"))
            if let tenantId { request = request.filter(Column("tenantId") == tenantId) }
            return try request.fetchAll(db)
        }
    }

    /// Sessions not ended: in `tenantId`, or in every tenant when nil (the operator's view).
    public func liveSessionCount(tenantId: String? = nil) throws -> Int {
        try db.read { db in
            var live = AgentSessionRecord.filter(Column("state") != AgentSessionRecord.State.ended.rawValue)
            if let tenantId { live = live.filter(Column("tenantId") == tenantId) }
            return try live.fetchCount(db)
        }
    }

    /// Changes a session under the write lock; returns the stored result.
    @discardableResult
    public func update(_ id: String, _ change: (inout AgentSessionRecord) throws -> Void) throws -> AgentSessionRecord {
        try db.write { db in
            guard var session = try AgentSessionRecord.fetchOne(db, key: id) else {
                throw HearthError(.notFound, "no agent session \(id)")
            }
            try change(&session)
            try session.update(db)
            return session
        }
    }

    public func delete(_ id: String) throws {
        try db.write { db in
            _ = try AgentSessionRecord.deleteOne(db, key: id)
            try db.execute(sql: "DELETE FROM agentEvent WHERE sessionId = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM agentIdempotency WHERE sessionId = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM agentHistory WHERE sessionId = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM agentCheckpoint WHERE sessionId = ?", arguments: [id])
        }
    }

    // MARK: Events

    /// Stores an event, assigning the next sequence number of its session inside the write.
    public func append(_ sessionId: String, _ type: AgentEventType, data: String, at: Date) throws -> AgentEvent {
        let data = data.utf8.count > AgentEvent.maxDataBytes ? Self.truncatedData(data) : data
        return try db.write { db in
            let last = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM agentEvent WHERE sessionId = ?", arguments: [sessionId]) ?? 0
            let event = AgentEvent(sessionId: sessionId, seq: last &+ 1, type: type, data: data, at: at)
            try event.insert(db)
            return event
        }
    }

    /// Events after `seq`, in order, at most `limit`.
    public func events(_ sessionId: String, after seq: Int64, limit: Int = 512) throws -> [AgentEvent] {
        try db.read { db in
            try AgentEvent.filter(Column("sessionId") == sessionId && Column("seq") > seq)
                .order(Column("seq")).limit(max(1, limit)).fetchAll(db)
        }
    }

    public func lastSeq(_ sessionId: String) throws -> Int64 {
        try db.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM agentEvent WHERE sessionId = ?", arguments: [sessionId]) ?? 0 }
    }

    static func truncatedData(_ data: String) -> String {
        let object: [String: Any] = ["truncated": true, "bytes": data.utf8.count]
        let bytes = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Idempotency

    /// Stores an event once per idempotency key: the second call with the same key stores
    /// nothing and returns the first call's event with `duplicate` true.
    public func append(_ sessionId: String, _ type: AgentEventType, data: String, at: Date,
                       idempotencyKey key: String) throws -> (event: AgentEvent, duplicate: Bool) {
        try db.write { db in
            if let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM agentIdempotency WHERE sessionId = ? AND key = ?", arguments: [sessionId, key]),
               let event = try AgentEvent.filter(Column("sessionId") == sessionId && Column("seq") == seq).fetchOne(db) {
                return (event, true)
            }
            let last = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM agentEvent WHERE sessionId = ?", arguments: [sessionId]) ?? 0
            let data = data.utf8.count > AgentEvent.maxDataBytes ? Self.truncatedData(data) : data
            let event = AgentEvent(sessionId: sessionId, seq: last &+ 1, type: type, data: data, at: at)
            try event.insert(db)
            try db.execute(sql: "INSERT INTO agentIdempotency (sessionId, key, seq) VALUES (?, ?, ?)", arguments: [sessionId, key, event.seq])
            return (event, false)
        }
    }

    // MARK: Providers

    public func upsert(_ provider: AgentProviderRecord) throws {
        try db.write { db in try provider.save(db) }
    }

    public func provider(tenantId: String, name: String) throws -> AgentProviderRecord? {
        try db.read { db in try Self.provider(db, tenantId: tenantId, name: name) }
    }

    static func provider(_ db: Database, tenantId: String, name: String) throws -> AgentProviderRecord? {
        try AgentProviderRecord.filter(Column("tenantId") == tenantId && Column("name") == name).fetchOne(db)
    }

    public func providers(tenantId: String) throws -> [AgentProviderRecord] {
        try db.read { db in try AgentProviderRecord.filter(Column("tenantId") == tenantId).order(Column("name")).fetchAll(db) }
    }

    @discardableResult
    public func deleteProvider(tenantId: String, name: String) throws -> Bool {
        try db.write { db in
            try db.execute(sql: "DELETE FROM agentProvider WHERE tenantId = ? AND name = ?", arguments: [tenantId, name])
            let deleted = db.changesCount > 0
            // Members' keys for the record go with it: a new record of the same name is another provider.
            try db.execute(sql: "DELETE FROM agentUserKey WHERE tenantId = ? AND provider = ?", arguments: [tenantId, name])
            return deleted
        }
    }
}
