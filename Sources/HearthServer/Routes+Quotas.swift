import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthIdentity
import Hummingbird

/// `/v1/tenants/{tenant}/quota`: the operator sets a tenant's quota; a tenant's admins read their own.
struct QuotaRoutes {
    let manager: WorkspaceManager
    let identity: IdentityStore
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        group.get("tenants/:tenant/quota") { _, context in
            let tenant = try tenant(context, write: false)
            return try json(try await Self.body(manager, tenantId: tenant.id))
        }
        group.put("tenants/:tenant/quota") { request, context in
            let tenant = try tenant(context, write: true)
            let body = try await request.decode(as: API.QuotaBody.self, context: context)
            let quota = TenantQuota(workspaces: body.workspaces, cpus: body.cpus, memoryMiB: body.memory_mib, diskMiB: body.disk_mib)
            try await auditor.around(context, "tenant.quota", target: tenant.name) { try await manager.setQuota(quota, tenantId: tenant.id) }
            return try json(try await Self.body(manager, tenantId: tenant.id))
        }
    }

    /// Writes are the operator's; reads are the operator's or the tenant's own admins'. Another
    /// tenant is "not found", as everywhere.
    private func tenant(_ context: HearthContext, write: Bool) throws -> Tenant {
        let principal = try context.admin()
        let name = try context.parameters.require("tenant")
        if principal.isOperator, let tenant = try identity.tenant(named: name) { return tenant }
        guard name == principal.tenantName, let tenant = try identity.tenant(id: principal.tenantId) else {
            throw HearthError(.notFound, "no tenant \(name.prefix(64))")
        }
        guard !write || principal.isOperator else { throw HearthError(.forbidden, "only the operator sets quotas") }
        return tenant
    }

    static func body(_ manager: WorkspaceManager, tenantId: String) async throws -> API.QuotaBody {
        let quota = try await manager.quota(tenantId: tenantId)
        let usage = try await manager.usage(tenantId: tenantId)
        return API.QuotaBody(workspaces: quota.workspaces, cpus: quota.cpus, memory_mib: quota.memoryMiB, disk_mib: quota.diskMiB,
                             used: .init(workspaces: usage.workspaces, cpus: usage.cpus, memory_mib: usage.memoryMiB, disk_mib: usage.diskMiB))
    }
}
