#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A workspace as the control plane records it.
public struct Workspace: Sendable, Codable, Equatable, Identifiable {
    public var id: String
    public var name: String
    public var runtime: RuntimeKind
    public var image: String
    public var state: WorkspaceState
    public var limits: ResourceLimits
    public var createdAt: Date
    public var updatedAt: Date
    /// Why the workspace is `failed`, for the user.
    public var failure: String?
    /// The newest generation in the store known to hold the workspace's state, and when it last
    /// did (issue 16): `now - durableAt` is what a loss of the server would cost, its RPO.
    public var durableGeneration: UInt64?
    public var durableAt: Date?
    /// Seconds between interval commits of this workspace; nil: the server's default; 0: none.
    public var commitIntervalSeconds: Int?
    /// Seconds without activity after which a running workspace is paused; nil or 0: never.
    public var idleTimeoutSeconds: Int?

    public init(id: String, name: String, runtime: RuntimeKind, image: String, state: WorkspaceState,
                limits: ResourceLimits, createdAt: Date, updatedAt: Date, failure: String? = nil) {
        self.id = id
        self.name = name
        self.runtime = runtime
        self.image = image
        self.state = state
        self.limits = limits
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.failure = failure
    }

    /// `ws_` and 20 lowercase base-32 characters (100 bits from the system CSPRNG).
    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "ws_" + String((0..<20).map { _ in base32.randomElement(using: &generator)! })
    }

    private static let base32 = Array("abcdefghijkmnpqrstuvwxyz23456789")

    /// Names are DNS labels so they can later become hostnames.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else {
            return false
        }
        return bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }
            && !name.hasPrefix("ws_")
    }
}

public enum RuntimeKind: String, Sendable, Codable, CaseIterable {
    case gvisor
    case qemu
    /// The test kit's in-process runtime: the real agent, no isolation.
    case process
}

public struct ResourceLimits: Sendable, Codable, Equatable {
    public var cpus: Double
    public var memoryMiB: Int
    /// Size of the workspace's own disk; nil takes the runtime's default. Only runtimes that
    /// give a workspace its own disk can honour it (`SandboxRuntime.limitsDisk`).
    public var diskMiB: Int?

    public init(cpus: Double = 1, memoryMiB: Int = 1024, diskMiB: Int? = nil) {
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.diskMiB = diskMiB
    }

    public static let maximumCPUs = 64.0
    public static let memoryRangeMiB = 64...(256 * 1024)
    /// A workspace's disk when it asks for no size (both runtimes' default).
    public static let defaultDiskMiB = 16 * 1024
    public static let diskRangeMiB = 64...(4 * 1024 * 1024)

    public func validated() throws(HearthError) -> ResourceLimits {
        guard cpus > 0, cpus <= Self.maximumCPUs else {
            throw HearthError(.invalidArgument, "cpus must be between 0 and \(Int(Self.maximumCPUs))")
        }
        guard Self.memoryRangeMiB.contains(memoryMiB) else {
            throw HearthError(.invalidArgument, "memory must be between \(Self.memoryRangeMiB.lowerBound) and \(Self.memoryRangeMiB.upperBound) MiB")
        }
        if let diskMiB, !Self.diskRangeMiB.contains(diskMiB) {
            throw HearthError(.invalidArgument, "disk must be between \(Self.diskRangeMiB.lowerBound) and \(Self.diskRangeMiB.upperBound) MiB")
        }
        return self
    }
}

/// Tenancy facts every layer agrees on.
public enum Tenancy {
    /// The tenant created at first start, and the owner of workspaces made before tenants existed.
    public static let defaultTenantID = "tn_default"
}
