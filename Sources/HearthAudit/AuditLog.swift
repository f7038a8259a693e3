import Foundation
import GRDB
import HearthCore

/// The tamper-evident audit log: a SHA-256 hash chain in its own SQLite database (synchronous
/// FULL, so an appended event survives power loss), plus a head file holding the newest event's
/// number and hash, so that cutting events off the end is detected too.
///
/// The chain proves that events were not edited, removed or reordered after the fact by anyone
/// who cannot also rewrite the head file; shipping the head elsewhere (a SIEM) extends that to
/// an attacker with root on this host. Migrations are append-only.
public final class AuditLog: Sendable {
    let db: any DatabaseWriter
    let headPath: String?

    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        db = try DatabasePool(path: path, configuration: config)
        headPath = path + ".head"
        try Self.migrator.migrate(db)
    }

    /// An in-memory log, for tests of the chain alone.
    public init(db: any DatabaseWriter, headPath: String? = nil) throws {
        self.db = db
        self.headPath = headPath
        try Self.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: audit events") { db in
            try db.create(table: "auditEvent") { t in
                t.primaryKey("seq", .integer)
                t.column("timeMillis", .integer).notNull().indexed()
                t.column("tenant", .text).notNull()
                t.column("actor", .text).notNull()
                t.column("action", .text).notNull()
                t.column("target", .text).notNull()
                t.column("sourceIP", .text).notNull()
                t.column("result", .text).notNull()
                t.column("detail", .text).notNull()
                t.column("previousHash", .text).notNull()
                t.column("hash", .text).notNull()
            }
        }
        return migrator
    }

    /// Numbers, chains and stores `record`. Appends are serialized by SQLite's single writer.
    @discardableResult
    public func append(_ record: AuditRecord, now: Date = Date()) throws -> AuditEvent {
        let event = try db.write { db -> AuditEvent in
            let last = try AuditEvent.order(Column("seq").desc).fetchOne(db)
            var event = AuditEvent(seq: (last?.seq ?? 0) + 1, timeMillis: Int64((now.timeIntervalSince1970 * 1000).rounded()),
                                   tenant: record.tenant, actor: record.actor, action: record.action, target: record.target,
                                   sourceIP: record.sourceIP, result: record.result, detail: record.detail,
                                   previousHash: last?.hash ?? AuditEvent.genesis, hash: "")
            event.hash = event.computedHash()
            try event.insert(db)
            return event
        }
        try writeHead(event)
        return event
    }

    /// Events from `since` on, oldest first, optionally for one tenant.
    public func events(since: Date? = nil, tenant: String? = nil, limit: Int? = nil) throws -> [AuditEvent] {
        try db.read { db in
            var request = AuditEvent.order(Column("seq"))
            if let since { request = request.filter(Column("timeMillis") >= Int64(since.timeIntervalSince1970 * 1000)) }
            if let tenant { request = request.filter(Column("tenant") == tenant) }
            if let limit { request = request.limit(limit) }
            return try request.fetchAll(db)
        }
    }

    func writeHead(_ event: AuditEvent) throws {
        guard let headPath else { return }
        let temporary = headPath + ".tmp"
        try Data("\(event.seq) \(event.hash)\n".utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, headPath) == 0 else {
            throw HearthError(.internal, "cannot record the audit log's head", detail: "rename \(headPath): errno \(errno)")
        }
    }

    func readHead() -> (seq: Int64, hash: String)? {
        guard let headPath, let text = try? String(contentsOfFile: headPath, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let seq = Int64(parts[0]) else { return nil }
        return (seq, String(parts[1]))
    }
}

extension AuditEvent: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "auditEvent"
}
