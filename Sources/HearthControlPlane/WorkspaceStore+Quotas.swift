public import Foundation
public import GRDB
public import HearthCore

/// Per-tenant quotas the operator set. A tenant without a row gets the manager's default.
extension WorkspaceStore {
    static func createQuotaTable(_ db: Database) throws {
        try db.create(table: "tenantQuota") { t in
            t.primaryKey("tenantId", .text)
            t.column("workspaces", .integer)
            t.column("cpus", .double)
            t.column("memoryMiB", .integer)
            t.column("diskMiB", .integer)
        }
    }

    struct QuotaRow: Codable, FetchableRecord, PersistableRecord {
        static let databaseTableName = "tenantQuota"
        var tenantId: String
        var workspaces: Int?
        var cpus: Double?
        var memoryMiB: Int?
        var diskMiB: Int?
    }

    /// The quota set for `tenantId`, or nil when the operator set none.
    public func quota(tenantId: String) throws -> TenantQuota? {
        try db.read { db in
            try QuotaRow.fetchOne(db, key: tenantId).map {
                TenantQuota(workspaces: $0.workspaces, cpus: $0.cpus, memoryMiB: $0.memoryMiB, diskMiB: $0.diskMiB)
            }
        }
    }

    public func setQuota(_ quota: TenantQuota, tenantId: String) throws {
        try db.write { db in
            try QuotaRow(tenantId: tenantId, workspaces: quota.workspaces, cpus: quota.cpus, memoryMiB: quota.memoryMiB,
                         diskMiB: quota.diskMiB).save(db)
        }
    }

    /// What `tenantId` holds now, pooled sandboxes excluded, `except` one workspace (being started).
    public func usage(tenantId: String, except: String? = nil) throws -> TenantQuota.Usage {
        var usage = TenantQuota.Usage()
        for record in try all(tenantId: tenantId) where record.id != except { usage.add(record.limits) }
        return usage
    }
}
