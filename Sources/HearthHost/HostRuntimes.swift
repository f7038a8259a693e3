public import HearthControlPlane
public import HearthQEMU
public import HearthRuntime
import Foundation
import HearthGVisor
public import Logging

/// The composition root's choice of sandbox runtimes: which drivers this host has, and their
/// options. `hearth serve` and `hearth doctor` build the same set and probe it; the HTTP server is
/// handed the probed registry and never names a driver.
public struct HostRuntimes: Sendable {
    /// The server's data directory; gVisor keeps its state under `DATA/runsc`.
    public var dataDirectory: String
    /// The guest agent bundle every sandbox gets read-only (`AgentBundle.locate`).
    public var agentDirectory: String
    public var gvisorPlatform: String = "ptrace"
    public var qemuAcceleration: QEMUConfiguration.Acceleration = .auto
    public var qemuMemory: QEMUConfiguration.MemoryBackend = .sharedFile
    /// How long a microVM may take to boot and greet the host; nil keeps the per-mode defaults.
    public var qemuBootTimeout: Duration?
    /// gVisor's own agent bundle when it differs from `agentDirectory` (the hostile-guest suite
    /// gives gVisor a wrapper agent while QEMU keeps the real one in its initramfs).
    public var gvisorAgentDirectory: String?
    /// Workspace networks (`--network on`); nil keeps every sandbox without a network.
    public var networking: (any WorkspaceNetworking)?

    public init(dataDirectory: String, agentDirectory: String) {
        self.dataDirectory = dataDirectory
        self.agentDirectory = agentDirectory
    }

    /// gVisor's state root: made here, by the part that chose gVisor.
    public var gvisorStateRoot: String { dataDirectory + "/runsc" }

    /// The gVisor and QEMU drivers, configured; not yet probed.
    public func runtimes(logger: Logger) throws -> [any SandboxRuntime] {
        try FileManager.default.createDirectory(atPath: gvisorStateRoot, withIntermediateDirectories: true)
        var qemu = QEMUConfiguration(agentDirectory: agentDirectory, acceleration: qemuAcceleration, memoryBackend: qemuMemory)
        qemu.networking = networking
        if let qemuBootTimeout {
            qemu.kvmBootTimeout = qemuBootTimeout
            qemu.tcgBootTimeout = qemuBootTimeout
        }
        var gvisor = GVisorConfiguration(platform: gvisorPlatform, stateRoot: gvisorStateRoot, agentDirectory: gvisorAgentDirectory ?? agentDirectory)
        gvisor.networking = networking
        gvisor.diskTemplates = dataDirectory + "/disk-templates"
        return [
            GVisorRuntime(configuration: gvisor, logger: logger),
            QEMURuntime(configuration: qemu, logger: logger),
        ]
    }

    /// The drivers, probed concurrently (by trying, not by looking for files).
    public func probe(logger: Logger) async throws -> RuntimeRegistry {
        await RuntimeRegistry.probing(try runtimes(logger: logger))
    }
}
