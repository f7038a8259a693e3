public import Foundation
public import GRDB
public import HearthCore
public import HearthRuntime

/// The control plane's database. Migrations are append-only: never edit one that has shipped.
public struct WorkspaceStore: Sendable {
    public let db: any DatabaseWriter
    /// Each state a workspace enters, published after it is persisted.
    public let changes = WorkspaceChanges()

    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        let pool = try DatabasePool(path: path, configuration: config)
        try self.init(db: pool)
    }

    public init(db: any DatabaseWriter) throws {
        self.db = db
        try Self.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: workspaces") { db in
            try db.create(table: "workspace") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("runtime", .text).notNull()
                t.column("image", .text).notNull()
                t.column("imageRootfs", .text).notNull()
                t.column("state", .text).notNull()
                t.column("cpus", .double).notNull()
                t.column("memoryMiB", .integer).notNull()
                t.column("pooled", .boolean).notNull().defaults(to: false)
                t.column("failure", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "workspaceEvent") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("workspaceId", .text).notNull().indexed()
                t.column("event", .text).notNull()
                t.column("fromState", .text).notNull()
                t.column("toState", .text).notNull()
                t.column("at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v2: disk size") { db in
            try db.alter(table: "workspace") { t in t.add(column: "diskMiB", .integer) }
        }
        // Names become unique per tenant, which needs the table rebuilt (SQLite cannot drop a
        // column's UNIQUE). Workspaces from before tenants belong to the default tenant.
        migrator.registerMigration("v3: tenants") { db in
            try db.create(table: "workspace_v3") { t in
                t.primaryKey("id", .text)
                t.column("tenantId", .text).notNull()
                t.column("name", .text).notNull()
                t.column("runtime", .text).notNull()
                t.column("image", .text).notNull()
                t.column("imageRootfs", .text).notNull()
                t.column("state", .text).notNull()
                t.column("cpus", .double).notNull()
                t.column("memoryMiB", .integer).notNull()
                t.column("diskMiB", .integer)
                t.column("pooled", .boolean).notNull().defaults(to: false)
                t.column("failure", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
                t.uniqueKey(["tenantId", "name"])
            }
            try db.execute(sql: """
                INSERT INTO workspace_v3 (id, tenantId, name, runtime, image, imageRootfs, state, cpus, memoryMiB, diskMiB, pooled, failure, createdAt, updatedAt)
                SELECT id, ?, name, runtime, image, imageRootfs, state, cpus, memoryMiB, diskMiB, pooled, failure, createdAt, updatedAt FROM workspace
                """, arguments: [WorkspaceRecord.defaultTenant])
            try db.drop(table: "workspace")
            try db.rename(table: "workspace_v3", to: "workspace")
        }
        migrator.registerMigration("v4: tenant quotas", migrate: createQuotaTable)
        // Issue 16: the newest generation known to hold the workspace's state, and when that was
        // last confirmed (a commit that found nothing changed confirms it too).
        migrator.registerMigration("v5: durable generation") { db in
            try db.alter(table: "workspace") { t in
                t.add(column: "durableGeneration", .integer)
                t.add(column: "durableAt", .datetime)
                t.add(column: "commitIntervalSeconds", .integer)
            }
        }
        // Issue 16: a running workspace with no activity for this long is paused.
        migrator.registerMigration("v6: idle timeout") { db in
            try db.alter(table: "workspace") { t in t.add(column: "idleTimeoutSeconds", .integer) }
        }
        return migrator
    }

    public func insert(_ record: WorkspaceRecord) throws {
        do {
            try db.write { db in try record.insert(db) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw HearthError(.conflict, "a workspace named \(record.name) already exists")
        }
    }

    /// The workspace `reference` (an id or a name) names within `tenantId`; nil (every tenant)
    /// only for the control plane's own bookkeeping. Another tenant's workspace is not found.
    public func find(_ reference: String, tenantId: String? = nil) throws -> WorkspaceRecord? {
        try db.read { db in
            var request = WorkspaceRecord.filter(Column("id") == reference || (Column("name") == reference && Column("pooled") == false))
            if let tenantId { request = request.filter(Column("tenantId") == tenantId && Column("pooled") == false) }
            return try request.fetchOne(db)
        }
    }

    /// The warm pool's rows only (a claim decodes these, not every workspace of every tenant).
    public func pooled() throws -> [WorkspaceRecord] {
        try db.read { db in try WorkspaceRecord.filter(Column("pooled") == true).order(Column("createdAt")).fetchAll(db) }
    }

    public func all(includePooled: Bool = false, tenantId: String? = nil) throws -> [WorkspaceRecord] {
        try db.read { db in
            var request = WorkspaceRecord.order(Column("createdAt"))
            if !includePooled { request = request.filter(Column("pooled") == false) }
            if let tenantId { request = request.filter(Column("tenantId") == tenantId) }
            return try request.fetchAll(db)
        }
    }

    /// Applies a lifecycle event through the state machine and records it. Fails on an illegal transition.
    @discardableResult
    public func apply(_ event: WorkspaceEvent, to id: String, failure: String? = nil, now: Date = Date()) throws -> WorkspaceRecord {
        let record = try applyInDatabase(event, to: id, failure: failure, now: now)
        changes.publish(id, record.state)
        return record
    }

    private func applyInDatabase(_ event: WorkspaceEvent, to id: String, failure: String?, now: Date) throws -> WorkspaceRecord {
        try db.write { db in
            guard var record = try WorkspaceRecord.fetchOne(db, key: id) else {
                throw HearthError(.notFound, "no workspace \(id)")
            }
            let next = try WorkspaceStateMachine().next(from: record.state, on: event)
            let event = WorkspaceEventRecord(workspaceId: id, event: event.rawValue, fromState: record.state.rawValue,
                                             toState: next.rawValue, at: now)
            try event.insert(db)
            record.state = next
            record.updatedAt = now
            record.failure = next == .failed ? (failure ?? record.failure) : nil
            try record.update(db)
            return record
        }
    }

    public func update(_ record: WorkspaceRecord) throws {
        do {
            try db.write { db in try record.update(db) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw HearthError(.conflict, "a workspace named \(record.name) already exists")
        }
    }

    public func delete(_ id: String) throws {
        _ = try db.write { db in try WorkspaceRecord.deleteOne(db, key: id) }
    }

    /// Sets the workspace's own commit interval (nil: the server's default).
    public func setCommitInterval(_ id: String, seconds: Int?) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE workspace SET commitIntervalSeconds = ? WHERE id = ?", arguments: [seconds, id])
        }
    }

    /// Sets the workspace's idle timeout (nil or 0: never paused for idleness).
    public func setIdleTimeout(_ id: String, seconds: Int?) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE workspace SET idleTimeoutSeconds = ? WHERE id = ?", arguments: [seconds, id])
        }
    }

    /// Records that generation `generation` held the workspace's whole state at `at`. Not a state
    /// change: `updatedAt` stays.
    public func recordDurable(_ id: String, generation: UInt64, at: Date) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE workspace SET durableGeneration = ?, durableAt = ? WHERE id = ?",
                           arguments: [Int64(clamping: generation), at, id])
        }
    }

    public func events(of id: String) throws -> [WorkspaceEventRecord] {
        try db.read { db in try WorkspaceEventRecord.filter(Column("workspaceId") == id).order(Column("id")).fetchAll(db) }
    }
}

public struct WorkspaceRecord: Codable, Sendable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "workspace"
    /// The tenant that owns workspaces made before tenants existed, and the bootstrap tenant's id.
    public static let defaultTenant = Tenancy.defaultTenantID
    public var id: String
    public var tenantId: String
    public var name: String
    public var runtime: RuntimeKind
    public var image: String
    public var imageRootfs: String
    public var state: WorkspaceState
    public var cpus: Double
    public var memoryMiB: Int
    public var diskMiB: Int?
    public var pooled: Bool
    public var failure: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var durableGeneration: Int64? = nil
    public var durableAt: Date? = nil
    public var commitIntervalSeconds: Int? = nil
    public var idleTimeoutSeconds: Int? = nil

    public var limits: ResourceLimits { ResourceLimits(cpus: cpus, memoryMiB: memoryMiB, diskMiB: diskMiB) }

    public var workspace: Workspace {
        // A failure is shown only for a failed workspace: a fork in progress keeps one in its row
        // for a crash to find (`WorkspaceManager.forkInterrupted`).
        var workspace = Workspace(id: id, name: name, runtime: runtime, image: image, state: state, limits: limits,
                                  createdAt: createdAt, updatedAt: updatedAt, failure: state == .failed ? failure : nil)
        workspace.durableGeneration = durableGeneration.flatMap { $0 >= 0 ? UInt64($0) : nil }
        workspace.durableAt = durableAt
        workspace.commitIntervalSeconds = commitIntervalSeconds
        workspace.idleTimeoutSeconds = idleTimeoutSeconds
        return workspace
    }
}

public struct WorkspaceEventRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "workspaceEvent"
    public var id: Int64?
    public var workspaceId: String
    public var event: String
    public var fromState: String
    public var toState: String
    public var at: Date
}
