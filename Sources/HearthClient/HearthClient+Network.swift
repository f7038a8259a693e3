public import HearthAPI
import NIOHTTP1

extension HearthClient {
    public func networkPolicy(_ workspace: String) async throws -> API.NetworkPolicyBody {
        try await json(.GET, "/v1/workspaces/\(escape(workspace))/network")
    }

    public func setNetworkPolicy(_ workspace: String, _ body: API.NetworkLevelBody) async throws -> API.NetworkPolicyBody {
        try await json(.PUT, "/v1/workspaces/\(escape(workspace))/network", body: body)
    }

    public func setTenantNetworkPolicy(tenant: String, _ body: API.NetworkLevelBody) async throws -> API.NetworkLevelBody {
        try await json(.PUT, "/v1/tenants/\(escape(tenant))/network", body: body)
    }

    public func netlog(_ workspace: String) async throws -> API.NetLogBody {
        try await json(.GET, "/v1/workspaces/\(escape(workspace))/netlog")
    }
}
