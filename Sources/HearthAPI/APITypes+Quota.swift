extension API {
    /// A tenant's quota (`null` is unlimited) and, in answers, what it uses now.
    public struct QuotaBody: Codable, Sendable, Equatable {
        public struct Used: Codable, Sendable, Equatable {
            public var workspaces: Int
            public var cpus: Double
            public var memory_mib: Int
            public var disk_mib: Int
            public init(workspaces: Int, cpus: Double, memory_mib: Int, disk_mib: Int) {
                self.workspaces = workspaces
                self.cpus = cpus
                self.memory_mib = memory_mib
                self.disk_mib = disk_mib
            }
        }
        public var workspaces: Int?
        public var cpus: Double?
        public var memory_mib: Int?
        public var disk_mib: Int?
        public var used: Used?

        public init(workspaces: Int? = nil, cpus: Double? = nil, memory_mib: Int? = nil, disk_mib: Int? = nil, used: Used? = nil) {
            self.workspaces = workspaces
            self.cpus = cpus
            self.memory_mib = memory_mib
            self.disk_mib = disk_mib
            self.used = used
        }
    }
}
