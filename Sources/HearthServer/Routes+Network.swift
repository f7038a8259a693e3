import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthIdentity
import HearthNetwork
import Hummingbird

/// `/v1/workspaces/{ws}/network`, `/v1/workspaces/{ws}/netlog` and `/v1/tenants/{t}/network`:
/// the policy in force and why, a workspace's own narrowing (members), a tenant's (its admins),
/// and recent decisions. With networking off every one of them is "not found".
struct NetworkRoutes {
    let manager: WorkspaceManager
    let identity: IdentityStore
    let network: WorkspaceNetworks?
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        group.get("workspaces/:ws/network") { _, context in
            let id = try await context.workspaceID(manager)
            return try json(Self.body(await (try networks()).policy(for: id)))
        }
        group.put("workspaces/:ws/network") { request, context in
            _ = try context.writer()
            let id = try await context.workspaceID(manager)
            let body = try await request.decode(as: API.NetworkLevelBody.self, context: context)
            let level = try LevelPolicy(mode: body.mode, rules: body.rules)
            let networks = try networks()
            try await auditor.around(context, "workspace.network", target: id, detail: Self.describe(body)) {
                try await networks.setWorkspacePolicy(id, level)
            }
            return try json(Self.body(await networks.policy(for: id)))
        }
        group.get("workspaces/:ws/netlog") { _, context in
            let id = try await context.workspaceID(manager)
            guard let snapshot = await (try networks()).netlog(id) else { throw HearthError(.notFound, "the workspace has no network now") }
            let format = ISO8601DateFormatter()
            return try json(API.NetLogBody(
                entries: snapshot.entries.map { .init(time: format.string(from: $0.time), kind: $0.kind.rawValue, allowed: $0.allowed,
                                                      destination: $0.destination, rule: $0.rule) },
                denied_names: snapshot.deniedNames, allowed_names: snapshot.allowedNames, denied_packets: snapshot.deniedPackets))
        }
        group.get("tenants/:tenant/network") { _, context in
            let tenant = try tenant(context)
            return try json(Self.level(await (try networks()).tenantPolicy(tenant.id)))
        }
        group.put("tenants/:tenant/network") { request, context in
            let tenant = try tenant(context)
            let body = try await request.decode(as: API.NetworkLevelBody.self, context: context)
            let level = try LevelPolicy(mode: body.mode, rules: body.rules)
            let networks = try networks()
            try await auditor.around(context, "tenant.network", target: tenant.name, detail: Self.describe(body)) {
                try await networks.setTenantPolicy(tenant.id, level)
            }
            return try json(Self.level(await networks.tenantPolicy(tenant.id)))
        }
    }

    private func networks() throws -> WorkspaceNetworks {
        guard let network else { throw HearthError(.notFound, "networking is off on this server") }
        return network
    }

    /// A tenant's own admins (or the operator) narrow its policy; another tenant is "not found".
    private func tenant(_ context: HearthContext) throws -> Tenant {
        let principal = try context.admin()
        let name = try context.parameters.require("tenant")
        if principal.isOperator, let tenant = try identity.tenant(named: name) { return tenant }
        guard name == principal.tenantName, let tenant = try identity.tenant(id: principal.tenantId) else {
            throw HearthError(.notFound, "no tenant \(name.prefix(64))")
        }
        return tenant
    }

    static func describe(_ body: API.NetworkLevelBody) -> String {
        "mode=\(body.mode ?? "-") rules=\((body.rules ?? []).joined(separator: ","))"
    }

    static func level(_ level: LevelPolicy) -> API.NetworkLevelBody {
        API.NetworkLevelBody(mode: level.mode?.rawValue, rules: level.rules?.map(\.description))
    }

    static func body(_ policy: EffectivePolicy) -> API.NetworkPolicyBody {
        API.NetworkPolicyBody(mode: policy.mode.rawValue, server: level(policy.server), tenant: level(policy.tenant), workspace: level(policy.workspace),
                              networks: policy.networkGrants.map { .init(rule: "\($0.proto == .udp ? "udp:" : "")\($0.cidr):\($0.ports.lowerBound)-\($0.ports.upperBound)", because: $0.because) })
    }
}
