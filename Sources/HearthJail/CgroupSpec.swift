#if canImport(Glibc)
import Glibc
#endif

/// A microVM's own cgroup: memory and CPU limits for the whole QEMU process.
///
/// Both cgroup layouts are handled: v2 (`/sys/fs/cgroup/hearth-vm/NAME`) and v1 or hybrid, where
/// memory and cpu are separate hierarchies (`/sys/fs/cgroup/memory/hearth-vm/NAME`, …).
public struct CgroupSpec: Sendable, Equatable {
    public var name: String
    public var memoryBytes: UInt64
    public var cpus: Double

    public init(name: String, memoryBytes: UInt64, cpus: Double) {
        self.name = name
        self.memoryBytes = memoryBytes
        self.cpus = cpus
    }

    public static let parent = "hearth-vm"
    static let root = "/sys/fs/cgroup"

    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45 }
    }

    static var isUnified: Bool { access(root + "/cgroup.controllers", F_OK) == 0 }

    /// Every directory this cgroup occupies.
    public static func directories(name: String) -> [String] {
        isUnified ? ["\(root)/\(parent)/\(name)"] : ["\(root)/memory/\(parent)/\(name)", "\(root)/cpu/\(parent)/\(name)"]
    }

    /// Creates the cgroup, sets its limits and moves `pid` into it.
    public func apply(to pid: Int32) throws(CgroupError) {
        let period: UInt64 = 100_000
        let quota = UInt64(cpus * Double(period))
        if Self.isUnified {
            let parentDir = "\(Self.root)/\(Self.parent)"
            try Self.makeDirectory(parentDir)
            // Controllers must be delegated from the root and from our parent.
            try? Self.write("+memory +cpu", to: "\(Self.root)/cgroup.subtree_control")
            try Self.write("+memory +cpu", to: parentDir + "/cgroup.subtree_control")
            let dir = "\(parentDir)/\(name)"
            try Self.makeDirectory(dir)
            try Self.write(String(memoryBytes), to: dir + "/memory.max")
            try? Self.write("0", to: dir + "/memory.swap.max")
            try Self.write("\(quota) \(period)", to: dir + "/cpu.max")
            try Self.write(String(pid), to: dir + "/cgroup.procs")
        } else {
            let memory = "\(Self.root)/memory/\(Self.parent)/\(name)"
            let cpu = "\(Self.root)/cpu/\(Self.parent)/\(name)"
            try Self.makeDirectory("\(Self.root)/memory/\(Self.parent)")
            try Self.makeDirectory("\(Self.root)/cpu/\(Self.parent)")
            try Self.makeDirectory(memory)
            try Self.makeDirectory(cpu)
            try Self.write(String(memoryBytes), to: memory + "/memory.limit_in_bytes")
            try Self.write(String(period), to: cpu + "/cpu.cfs_period_us")
            try Self.write(String(quota), to: cpu + "/cpu.cfs_quota_us")
            try Self.write(String(pid), to: memory + "/cgroup.procs")
            try Self.write(String(pid), to: cpu + "/cgroup.procs")
        }
    }

    /// Removes the cgroup once its processes are gone. Returns false if a directory remains.
    @discardableResult
    public static func remove(name: String) -> Bool {
        var clean = true
        for dir in directories(name: name) where access(dir, F_OK) == 0 {
            if rmdir(dir) != 0 { clean = false }
        }
        return clean
    }

    static func makeDirectory(_ path: String) throws(CgroupError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw CgroupError(path: path, errno: errno) }
    }

    static func write(_ text: String, to path: String) throws(CgroupError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CgroupError(path: path, errno: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n != bytes.count { throw CgroupError(path: path, errno: errno) }
    }
}

public struct CgroupError: Error, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }
}
