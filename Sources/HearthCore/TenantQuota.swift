/// What one tenant may hold at once, set by the operator. `nil` is unlimited. Counted over every
/// workspace the tenant has, whatever its state: a stopped workspace keeps its disk and may be
/// started again at any time, so its resources stay reserved.
public struct TenantQuota: Sendable, Equatable, Codable {
    public var workspaces: Int?
    public var cpus: Double?
    public var memoryMiB: Int?
    public var diskMiB: Int?

    public init(workspaces: Int? = nil, cpus: Double? = nil, memoryMiB: Int? = nil, diskMiB: Int? = nil) {
        self.workspaces = workspaces
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.diskMiB = diskMiB
    }

    public static let unlimited = TenantQuota()
    /// Every tenant but the operator's, until the operator says otherwise.
    public static let standard = TenantQuota(workspaces: 20, cpus: 32, memoryMiB: 64 * 1024, diskMiB: 512 * 1024)

    /// What a tenant holds: totals over its workspaces.
    public struct Usage: Sendable, Equatable, Codable {
        public var workspaces = 0
        public var cpus = 0.0
        public var memoryMiB = 0
        public var diskMiB = 0

        public init(workspaces: Int = 0, cpus: Double = 0, memoryMiB: Int = 0, diskMiB: Int = 0) {
            self.workspaces = workspaces
            self.cpus = cpus
            self.memoryMiB = memoryMiB
            self.diskMiB = diskMiB
        }

        /// Adds one workspace's limits. Saturates: limits are validated, but a sum must never trap.
        public mutating func add(_ limits: ResourceLimits, counting: Bool = true) {
            if counting { workspaces = workspaces.addingReportingOverflow(1).overflow ? .max : workspaces + 1 }
            cpus += limits.cpus
            let memory = memoryMiB.addingReportingOverflow(limits.memoryMiB)
            memoryMiB = memory.overflow ? .max : memory.partialValue
            let disk = diskMiB.addingReportingOverflow(limits.diskMiB ?? ResourceLimits.defaultDiskMiB)
            diskMiB = disk.overflow ? .max : disk.partialValue
        }
    }

    /// Refuses `usage` that exceeds the quota, naming the first limit it passes.
    public func check(_ usage: Usage) throws {
        func refuse(_ what: String, _ used: String, _ limit: String) -> HearthError {
            HearthError(.quotaExceeded, "the tenant's quota allows \(limit) \(what); this would make \(used)")
        }
        if let workspaces, usage.workspaces > workspaces { throw refuse("workspaces", "\(usage.workspaces)", "\(workspaces)") }
        if let cpus, usage.cpus > cpus + 1e-9 { throw refuse("vCPUs", "\(usage.cpus)", "\(cpus)") }
        if let memoryMiB, usage.memoryMiB > memoryMiB { throw refuse("MiB of memory", "\(usage.memoryMiB)", "\(memoryMiB)") }
        if let diskMiB, usage.diskMiB > diskMiB { throw refuse("MiB of disk", "\(usage.diskMiB)", "\(diskMiB)") }
    }

    /// Refuses negative or non-finite limits.
    public func validated() throws -> TenantQuota {
        if let workspaces, workspaces < 0 { throw HearthError(.invalidArgument, "a workspace quota is 0 or more") }
        if let cpus, !(cpus.isFinite && cpus >= 0) { throw HearthError(.invalidArgument, "a vCPU quota is 0 or more") }
        if let memoryMiB, memoryMiB < 0 { throw HearthError(.invalidArgument, "a memory quota is 0 or more") }
        if let diskMiB, diskMiB < 0 { throw HearthError(.invalidArgument, "a disk quota is 0 or more") }
        return self
    }
}
