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

/// A gVisor workspace that fills its disk fills only its own: its writer gets ENOSPC, while
/// another tenant's workspace keeps writing and the data directory keeps its space.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HostileTenantDiskTests {
    @Test func fillingADiskAffectsOnlyThatWorkspace() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let filler = try await evil.member.create(API.CreateWorkspaceBody(runtime: "gvisor", disk_mib: 64))
        #expect(filler.disk_mib == 64)
        let bystander = try await server.client.create(API.CreateWorkspaceBody(runtime: "gvisor"))
        var before = statvfs()
        #expect(statvfs(server.dataDirectory, &before) == 0)
        let fill = try await evil.member.run(filler.id, ["dd", "if=/dev/zero", "of=/workspace/fill", "bs=1M", "count=256"])
        #expect(fill.code != 0 && fill.stderrText.contains("No space left"), "\(fill.stderrText)")
        let written = try await evil.member.run(filler.id, ["sh", "-c", "du -sm /workspace/fill | cut -f1"]).stdoutText
        #expect((Int(written.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1000) < 64)
        let other = try await server.client.run(bystander.id, ["dd", "if=/dev/zero", "of=/workspace/ok", "bs=1M", "count=16"])
        #expect(other.code == 0, "\(other.stderrText)")
        var after = statvfs()
        #expect(statvfs(server.dataDirectory, &after) == 0)
        let usedMiB = (Int64(before.f_bavail) - Int64(after.f_bavail)) * Int64(before.f_frsize) / (1 << 20)
        #expect(usedMiB < 64 + 16 + 32, "the data directory lost \(usedMiB) MiB")
        #expect(try await server.client.health().status == "ok")
        try await evil.member.delete(filler.id)
        try await server.client.delete(bystander.id)
    }
}
