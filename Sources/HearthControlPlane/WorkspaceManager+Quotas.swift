public import HearthCore
import Logging

/// Per-tenant quotas: checked on create and start, inside the manager actor with no suspension
/// between the check and the write, so two concurrent creates cannot both take the last slot.
extension WorkspaceManager {
    /// The quota in force for `tenantId`: its own, else the default (the operator's tenant is unlimited).
    public func quota(tenantId: String) throws -> TenantQuota {
        if let own = try store.quota(tenantId: tenantId) { return own }
        return tenantId == Tenancy.defaultTenantID ? .unlimited : configuration.defaultQuota
    }

    public func usage(tenantId: String) throws -> TenantQuota.Usage { try store.usage(tenantId: tenantId) }

    public func setQuota(_ quota: TenantQuota, tenantId: String) throws {
        try store.setQuota(try quota.validated(), tenantId: tenantId)
        logger.notice("tenant quota set", metadata: ["tenant.id": "\(tenantId)", "quota": "\(quota)"])
    }

    func checkQuota(tenantId: String, adding limits: ResourceLimits, except: String? = nil) throws {
        var usage = try store.usage(tenantId: tenantId, except: except)
        usage.add(limits)
        do {
            try quota(tenantId: tenantId).check(usage)
        } catch {
            logger.notice("refused by quota", metadata: ["tenant.id": "\(tenantId)", "error": "\(error)"])
            throw error
        }
    }
}
