public import Foundation
public import HearthRuntime

/// How Hearth drives QEMU. Defaults suit any x86-64 Linux host; acceleration is found by trying.
public struct QEMUConfiguration: Sendable {
    public enum Acceleration: String, Sendable {
        /// KVM if a probe guest boots with it in time, else TCG.
        case auto
        case kvm
        case tcg
    }

    /// Where guest RAM lives, which decides what a pause writes.
    public enum MemoryBackend: String, Sendable, Codable {
        /// Anonymous memory: a pause migrates all of RAM into the snapshot file.
        case anonymous
        /// A shared file in the workspace's state directory, migrated with `x-ignore-shared`: a
        /// pause writes only device state and flushes the file; a resume maps it back.
        case sharedFile = "file"
    }

    /// The helper bundle: `hearth-guest`, `hearth-jailer` and `microvm/current/{vmlinuz,initramfs.img}`.
    public var agentDirectory: String
    public var qemuPath: String?
    public var qemuImgPath: String?
    public var acceleration: Acceleration
    public var memoryBackend: MemoryBackend
    /// The uids (and equal gids) microVMs run as, one per VM (see `VMIdentity`). None may be a real
    /// account's; the last is the acceleration probe's.
    public var vmUIDs: ClosedRange<UInt32>
    /// How long a KVM probe guest may take to reach userspace. A real KVM boot takes well under a second.
    public var kvmProbeDeadline: Duration
    /// How long a workspace may take to boot and greet the host, per acceleration mode.
    public var kvmBootTimeout: Duration
    public var tcgBootTimeout: Duration
    /// Size of a new workspace's /workspace disk (sparse).
    public var workspaceDiskGiB: Int
    /// Size of the root filesystem built from an image (sparse).
    public var rootDiskGiB: Int
    /// Where probe results are kept for the life of this host boot.
    public var probeCacheDirectory: String
    /// Workspace networks (`--network on`): each machine gets a virtio-net device on a tap in its
    /// workspace's namespace. Nil: no network device, and QEMU in an empty namespace.
    public var networking: (any WorkspaceNetworking)?

    public init(agentDirectory: String, qemuPath: String? = nil, qemuImgPath: String? = nil, acceleration: Acceleration = .auto,
                memoryBackend: MemoryBackend = .sharedFile,
                vmUIDs: ClosedRange<UInt32> = 100_000...165_535, kvmProbeDeadline: Duration = .seconds(5), kvmBootTimeout: Duration = .seconds(20),
                tcgBootTimeout: Duration = .seconds(90), workspaceDiskGiB: Int = 16, rootDiskGiB: Int = 8,
                probeCacheDirectory: String = "/run/hearth") {
        self.agentDirectory = agentDirectory
        self.qemuPath = qemuPath
        self.qemuImgPath = qemuImgPath
        self.acceleration = acceleration
        self.memoryBackend = memoryBackend
        self.vmUIDs = vmUIDs
        self.kvmProbeDeadline = kvmProbeDeadline
        self.kvmBootTimeout = kvmBootTimeout
        self.tcgBootTimeout = tcgBootTimeout
        self.workspaceDiskGiB = workspaceDiskGiB
        self.rootDiskGiB = rootDiskGiB
        self.probeCacheDirectory = probeCacheDirectory
    }

    var jailerPath: String { agentDirectory + "/hearth-jailer" }
}
