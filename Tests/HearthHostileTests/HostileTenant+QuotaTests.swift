import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// Per-tenant quotas: a member cannot take more than the operator gave the tenant, cannot raise
/// its own quota, and cannot see another tenant's.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HostileTenantQuotaTests {
    @Test func aTenantCannotExceedOrRaiseItsQuota() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        // The default quota already refuses a workspace of 64 CPUs and 256 GiB.
        do {
            _ = try await evil.member.create(API.CreateWorkspaceBody(cpus: 64, memory_mib: 262_144))
            Issue.record("a member took 64 vCPUs")
        } catch let failure as HearthClient.Failure {
            #expect(["quota_exceeded", "invalid_argument"].contains(failure.code), "\(failure)")
        }
        _ = try await server.client.setQuota(tenant: evil.tenant, API.QuotaBody(workspaces: 1, cpus: 2, memory_mib: 2048))
        let first = try await evil.member.create(API.CreateWorkspaceBody(cpus: 1, memory_mib: 512))
        for body in [API.CreateWorkspaceBody(cpus: 1, memory_mib: 512), API.CreateWorkspaceBody(cpus: 0.5, memory_mib: 256)] {
            do {
                _ = try await evil.member.create(body)
                Issue.record("a second workspace passed a quota of one")
            } catch let failure as HearthClient.Failure {
                #expect(failure.code == "quota_exceeded", "\(failure)")
                #expect(failure.message.contains("workspaces"))
            }
        }
        // The tenant cannot raise its own quota, nor read or set another tenant's.
        let raise = try await evil.request(evil.memberToken, .PUT, "/v1/tenants/\(evil.tenant)/quota", body: #"{"workspaces":100}"#)
        #expect(raise.status == 403)
        let other = try await evil.request(evil.memberToken, .GET, "/v1/tenants/default/quota")
        #expect([403, 404].contains(other.status))
        let viewer = try await evil.request(evil.viewerToken, .PUT, "/v1/tenants/\(evil.tenant)/quota", body: #"{"workspaces":100}"#)
        #expect(viewer.status == 403)
        // A quota lowered below what the tenant holds stops a start, not what runs.
        _ = try await evil.member.lifecycle(first.id, "stop")
        _ = try await server.client.setQuota(tenant: evil.tenant, API.QuotaBody(workspaces: 1, cpus: 0.5, memory_mib: 2048))
        do {
            _ = try await evil.member.lifecycle(first.id, "start")
            Issue.record("a start passed a lowered vCPU quota")
        } catch let failure as HearthClient.Failure {
            #expect(failure.code == "quota_exceeded")
        }
        let shown = try await server.client.quota(tenant: evil.tenant)
        #expect(shown.used?.workspaces == 1 && shown.cpus == 0.5)
        // Bad quotas are clear errors.
        await #expect(throws: HearthClient.Failure.self) {
            _ = try await server.client.setQuota(tenant: evil.tenant, API.QuotaBody(workspaces: -1))
        }
        try await evil.member.delete(first.id)
    }
}
