import HearthCore
import Testing

@Suite struct TenantQuotaTests {
    @Test func usageOverAnyLimitIsRefusedByName() throws {
        let quota = TenantQuota(workspaces: 2, cpus: 2, memoryMiB: 2048, diskMiB: 4096)
        var usage = TenantQuota.Usage()
        usage.add(ResourceLimits(cpus: 1, memoryMiB: 1024, diskMiB: 2048))
        usage.add(ResourceLimits(cpus: 1, memoryMiB: 1024, diskMiB: 2048))
        try quota.check(usage)
        var more = usage
        more.add(ResourceLimits(cpus: 0.1, memoryMiB: 64, diskMiB: 64))
        #expect(throws: HearthError.self) { try quota.check(more) }
        do { try quota.check(more) } catch let error as HearthError {
            #expect(error.code == .quotaExceeded && error.message.contains("workspaces"))
        }
        try TenantQuota.unlimited.check(more)
    }

    @Test func sumsSaturateInsteadOfTrapping() throws {
        var usage = TenantQuota.Usage(workspaces: .max, cpus: 0, memoryMiB: .max, diskMiB: .max)
        usage.add(ResourceLimits(cpus: 1, memoryMiB: 1024, diskMiB: 1024))
        #expect(usage.workspaces == .max && usage.memoryMiB == .max && usage.diskMiB == .max)
        #expect(throws: HearthError.self) { try TenantQuota(workspaces: -1).validated() }
        #expect(throws: HearthError.self) { try TenantQuota(cpus: .nan).validated() }
        #expect(throws: HearthError.self) { try TenantQuota(cpus: -.infinity).validated() }
    }
}
