public import HearthAPI
import NIOHTTP1

extension HearthClient {
    public func quota(tenant: String) async throws -> API.QuotaBody {
        try await json(.GET, "/v1/tenants/\(escape(tenant))/quota")
    }

    public func setQuota(tenant: String, _ body: API.QuotaBody) async throws -> API.QuotaBody {
        try await json(.PUT, "/v1/tenants/\(escape(tenant))/quota", body: body)
    }
}
