public import Foundation
public import GRDB
import HearthCore
import Synchronization

/// The tamper-evident audit log: an HMAC-SHA256 chain in its own SQLite database (synchronous
/// FULL, so an appended event survives power loss), keyed by `audit.key`, a file the database does
/// not hold, plus a head file holding the newest event's number and hash under its own MAC, so
/// that cutting events off the end is detected too, even together with rewriting the head.
///
/// The chain proves that events were not edited, removed or reordered after the fact by anyone
/// who cannot also read the key. Replaying an older, genuine head file after cutting the tail is
/// caught by the anchor beside the key (`AuditLog+Anchor`); whoever can read the key can replay
/// that too, which only a head shipped off the host (a SIEM) closes. Migrations are append-only.
public final class AuditLog: Sendable {
    let db: any DatabaseWriter
    let headPath: String?
    /// Beside the key, in the key's protection (`AuditLog+Anchor`); nil for logs without one (tests).
    let anchorPath: String?
    let key: AuditKey
    /// Serializes an append with its head write, so heads never go backwards and two appends
    /// never share a temporary file. The count names each temporary file uniquely.
    let appendLock = Mutex<Int>(0)
    /// Appends waiting for the next group commit (`AuditLog+GroupCommit`).
    let waiting = Mutex(AppendQueue())

    /// The log at `path`, keyed by `keyPath` (default: `audit.key` beside it), which is created
    /// on first use.
    public init(path: String, keyPath: String? = nil) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        db = try DatabasePool(path: path, configuration: config)
        // After the pool is open, on its one writing connection: GRDB sets `synchronous = NORMAL`
        // when it turns WAL on, after any `prepareDatabase` hook, so a FULL set there never held
        // and no event was synced before its action answered.
        try db.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        headPath = path + ".head"
        try Self.migrator.migrate(db)
        let keyFile = keyPath ?? (URL(fileURLWithPath: path).deletingLastPathComponent().path + "/audit.key")
        let last = try db.read { db in try AuditEvent.order(Column("seq").desc).fetchOne(db) }
        let anchorPath = keyFile + ".anchor"
        self.anchorPath = anchorPath
        key = try AuditKey.loadOrCreate(path: keyFile, last: last.map { ($0.seq, $0.hash) }) { key in
            try Self.writeAnchor(at: anchorPath, seq: last?.seq ?? 0, hash: last?.hash ?? AuditEvent.genesis, key: key, counter: 0)
        }
        // A log keyed just now gets a head under the key at once, so an unkeyed head never lingers.
        if let last, key.legacy?.seq == last.seq, readHead().map({ !$0.authentic }) ?? true {
            try writeHead(last, counter: 0)
        }
    }

    /// A log over `db` (tests), keyed by `key`.
    public init(db: any DatabaseWriter, headPath: String? = nil, anchorPath: String? = nil, key: AuditKey = .random()) throws {
        self.db = db
        self.headPath = headPath
        self.anchorPath = anchorPath
        self.key = key
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

    /// SQLite's `synchronous` level on the connection appends are written through (2: FULL, each
    /// append synced before it returns; GRDB's WAL default is 1, NORMAL).
    public func appendSynchronousLevel() throws -> Int {
        try db.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Numbers, chains and stores `record`, then records the new head. Appends are serialized.
    @discardableResult
    public func append(_ record: AuditRecord, now: Date = Date()) throws -> AuditEvent {
        try appendBatch([(record, now)])[0]
    }

    /// Numbers, chains and stores `records` in one transaction (one sync), then records the new
    /// head once. Appends are serialized.
    func appendBatch(_ records: [(AuditRecord, Date)]) throws -> [AuditEvent] {
        precondition(!records.isEmpty)
        return try appendLock.withLock { counter in
            counter &+= 1
            let events = try db.write { db -> [AuditEvent] in
                var last = try AuditEvent.order(Column("seq").desc).fetchOne(db)
                var events: [AuditEvent] = []
                events.reserveCapacity(records.count)
                for (record, now) in records {
                    let millis = now.timeIntervalSince1970 * 1000
                    var event = AuditEvent(seq: (last?.seq ?? 0) &+ 1, timeMillis: Int64(exactly: millis.rounded()) ?? 0,
                                           tenant: record.tenant, actor: record.actor, action: record.action, target: record.target,
                                           sourceIP: record.sourceIP, result: record.result, detail: record.detail,
                                           previousHash: last?.hash ?? AuditEvent.genesis, hash: "")
                    event.hash = key.mac(event.canonicalBytes)
                    try event.insert(db)
                    events.append(event)
                    last = event
                }
                return events
            }
            let event = events[events.count - 1]
            try writeHead(event, counter: counter)
            try advanceAnchor(to: event, counter: counter)
            return events
        }
    }

    /// Events from `since` on, oldest first, optionally for one tenant.
    public func events(since: Date? = nil, tenant: String? = nil, limit: Int? = nil) throws -> [AuditEvent] {
        try events(after: 0, since: since, tenant: tenant, limit: limit)
    }

    /// Events numbered above `seq`: a page of an export that streams instead of loading the whole log.
    public func events(after seq: Int64, since: Date? = nil, tenant: String? = nil, limit: Int? = nil) throws -> [AuditEvent] {
        try db.read { db in
            var request = AuditEvent.filter(Column("seq") > seq).order(Column("seq"))
            if let since { request = request.filter(Column("timeMillis") >= Int64(exactly: (since.timeIntervalSince1970 * 1000).rounded()) ?? 0) }
            if let tenant { request = request.filter(Column("tenant") == tenant) }
            if let limit { request = request.limit(limit) }
            return try request.fetchAll(db)
        }
    }

    /// Writes the head under a temporary name of its own, then renames it into place.
    func writeHead(_ event: AuditEvent, counter: Int) throws {
        guard let headPath else { return }
        let line = "\(event.seq) \(event.hash) \(key.headMAC(seq: event.seq, hash: event.hash))\n"
        try AuditFile.replace(headPath, with: Array(line.utf8), what: "the audit log's head")
    }

    struct Head {
        var seq: Int64
        var hash: String
        /// Whether its MAC is this log's: a head anyone else wrote is not.
        var authentic: Bool
    }

    func readHead() -> Head? {
        guard let headPath, let text = try? String(contentsOfFile: headPath, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count >= 2, let seq = Int64(parts[0]) else { return Head(seq: 0, hash: "", authentic: false) }
        let hash = String(parts[1])
        let authentic = parts.count == 3 && macEquals(String(parts[2]), key.headMAC(seq: seq, hash: hash))
        return Head(seq: seq, hash: hash, authentic: authentic)
    }
}

extension AuditEvent: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "auditEvent"
}
