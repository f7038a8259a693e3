import CHearthGuest
public import Foundation
public import HearthCore
public import HearthJail
public import HearthRuntime
import HearthWire
public import Logging
public import Synchronization

/// Workspaces as QEMU microVMs: their own kernel, hardware isolation where KVM is real.
///
/// QEMU runs through `hearth-jailer` (own cgroup, private mount namespace, unprivileged uid,
/// seccomp). The agent is the guest's PID 1 and is reached through a virtio-serial port that QEMU
/// exposes as a unix socket in the workspace's `vm/` directory. Pause is QMP `stop` plus `migrate`
/// to a file descriptor the host opened; resume starts QEMU with `-incoming` from that file.
public final class QEMURuntime: SandboxRuntime {
    public let kind = RuntimeKind.qemu
    public let configuration: QEMUConfiguration
    let logger: Logger
    let disks: QEMUDisks
    /// What the probe found; `start` uses it when nothing was recorded for the workspace.
    let probedMode = Mutex<QEMUCommandLine.Mode?>(nil)

    public init(configuration: QEMUConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.disks = QEMUDisks(configuration: configuration)
    }

    /// `/workspace` is a disk of its own, sized per workspace.
    public var limitsDisk: Bool { true }

    var qemu: String? { configuration.qemuPath ?? HostCommand.which("qemu-system-x86_64") }

    // MARK: Lifecycle

    public func prepare(_ spec: SandboxSpec) async throws {
        let layout = QEMULayout(spec)
        let base = try await disks.baseDisk(for: spec.image)
        try await disks.prepare(layout: layout, base: base, workspaceMiB: spec.limits.diskMiB ?? configuration.workspaceDiskGiB * 1024,
                                owner: try VMIdentity.ids(for: layout, id: spec.id, range: configuration.vmUIDs))
    }

    public func start(_ spec: SandboxSpec) async throws -> AgentConnection {
        let layout = QEMULayout(spec)
        guard let mode = probedMode.withLock({ $0 }) else {
            throw HearthError(.runtimeUnavailable, "the qemu runtime is not available on this host; run `hearth doctor`")
        }
        try? FileManager.default.removeItem(atPath: layout.snapshot)
        // A fresh boot gets fresh memory, never a previous run's pages.
        try? FileManager.default.removeItem(atPath: layout.memoryFile)
        let boot = QEMUBootRecord(acceleration: mode, memory: configuration.memoryBackend)
        try boot.write(layout)
        try? FileManager.default.removeItem(atPath: layout.console)
        return try await launch(spec, boot, incoming: nil, what: "boot")
    }

    public func reconnect(_ spec: SandboxSpec) async throws -> AgentConnection {
        let layout = QEMULayout(spec)
        guard let pid = runningPID(layout) else { throw HearthError(.runtimeFailed, "the microVM is not running") }
        try await waitForGuest(layout, pid: pid, incoming: nil, deadline: .now + .seconds(10))
        return try await connectAgent(layout, deadline: .now + .seconds(10))
    }

    public func pause(_ spec: SandboxSpec, agent: AgentConnection?) async throws {
        let layout = QEMULayout(spec)
        guard let pid = runningPID(layout) else { throw HearthError(.conflict, "the microVM is not running") }
        if let agent, !agent.isClosed {
            // No half-written frame may be frozen into the snapshot.
            try? await agent.quiesce()
            agent.close()
        }
        let partial = layout.snapshot + ".partial"
        let memory = QEMUBootRecord.read(layout)?.memory ?? .anonymous
        try await onThread {
            let qmp = try QMPClient(path: layout.qmpSocket)
            try qmp.execute("stop")
            if memory == .sharedFile {
                do {
                    try qmp.ignoreSharedMemory()
                } catch {
                    _ = try? qmp.execute("cont")
                    throw HearthError(.runtimeFailed, "the workspace could not be paused", detail: "x-ignore-shared: \(error)")
                }
            }
            let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                _ = try? qmp.execute("cont")
                throw HearthError(.runtimeFailed, "cannot write the workspace's saved state", detail: "\(partial): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            do {
                try qmp.execute("getfd", ["fdname": "snapshot"], passing: fd)
                try qmp.execute("migrate", ["uri": "fd:snapshot"])
                try Self.waitForMigration(qmp, deadline: .now + .seconds(600))
                guard fsync(fd) == 0 else { throw QMPClient.Failure(description: "fsync: \(String(cString: strerror(errno)))") }
            } catch {
                _ = try? qmp.execute("cont")
                unlink(partial)
                throw HearthError(.runtimeFailed, "the workspace could not be paused", detail: "\(error)")
            }
            _ = try? qmp.execute("quit")
        }
        try await waitForExit(pid, deadline: .now + .seconds(10), force: true)
        if memory == .sharedFile {
            // The guest's pages reach the disk before the pause counts as done. The file is in
            // the VM-writable `vm/`: never through a symlink or into a FIFO.
            let fd = (try? VMFiles.openRegular(layout.memoryFile, O_RDONLY)) ?? -1
            defer { if fd >= 0 { close(fd) } }
            guard fd >= 0, fsync(fd) == 0 else {
                unlink(partial)
                throw HearthError(.runtimeFailed, "cannot keep the saved state", detail: "\(layout.memoryFile): \(String(cString: strerror(errno)))")
            }
        }
        // The snapshot appears last, so a crash mid-pause never leaves a resumable half state.
        guard rename(partial, layout.snapshot) == 0 else { throw HearthError(.runtimeFailed, "cannot keep the saved state") }
    }

    public func resume(_ spec: SandboxSpec) async throws -> AgentConnection {
        let layout = QEMULayout(spec)
        guard FileManager.default.fileExists(atPath: layout.snapshot) else {
            throw HearthError(.conflict, "the workspace has no saved state to resume from")
        }
        // A resume boots the way the workspace was booted, whatever the server's settings are now.
        guard let boot = QEMUBootRecord.read(layout) else {
            throw HearthError(.runtimeFailed, "the workspace's saved state has no boot record; start it again", detail: layout.bootRecord)
        }
        if boot.memory == .sharedFile, !FileManager.default.fileExists(atPath: layout.memoryFile) {
            throw HearthError(.runtimeFailed, "the workspace's saved memory is missing; start it again", detail: layout.memoryFile)
        }
        let agent = try await launch(spec, boot, incoming: layout.snapshot, what: "resume")
        try? FileManager.default.removeItem(atPath: layout.snapshot)
        return agent
    }

    public func stop(_ spec: SandboxSpec, grace: Duration) async throws {
        let layout = QEMULayout(spec)
        if let pid = runningPID(layout) {
            // The agent signals every process, syncs the disks and powers the machine off. The
            // control plane closed its channel before calling stop, so a fresh one is opened.
            if grace > .zero, let channel = try? await connectAgent(layout, deadline: .now + min(grace, .seconds(3))) {
                _ = try? await channel.call(.shutdown, timeout: .seconds(2))
                channel.close()
            }
            try await waitForExit(pid, deadline: .now + grace, force: true)
        }
        await removeCgroup(spec.id)
        try? FileManager.default.removeItem(atPath: layout.snapshot)
        try? FileManager.default.removeItem(atPath: layout.memoryFile)
        try? FileManager.default.removeItem(atPath: layout.pidFile)
    }

    public func destroy(_ spec: SandboxSpec) async throws {
        try await stop(spec, grace: .zero)
        await configuration.networking?.detach(workspace: spec.id)
        // stop has already waited for the cgroup to empty; a remaining one is a real leak.
        guard CgroupSpec.remove(name: spec.id) else {
            throw HearthError(.runtimeFailed, "the microVM's cgroup is still in use", detail: spec.id)
        }
        if FileManager.default.fileExists(atPath: spec.stateDirectory) {
            try FileManager.default.removeItem(atPath: spec.stateDirectory)
        }
    }

    public func status(_ spec: SandboxSpec) async -> SandboxStatus {
        let layout = QEMULayout(spec)
        if runningPID(layout) != nil { return .running }
        if FileManager.default.fileExists(atPath: layout.snapshot) { return .paused }
        return FileManager.default.fileExists(atPath: spec.stateDirectory) ? .stopped : .missing
    }
}

/// How a workspace's machine was booted: its acceleration and where its RAM lives. A resume must
/// match both, so they are kept with the workspace rather than taken from the server's settings.
struct QEMUBootRecord: Codable, Equatable {
    var acceleration: QEMUCommandLine.Mode
    var memory: QEMUConfiguration.MemoryBackend
    /// The address the guest's kernel was given at boot (networking on), nil: no network device.
    /// A resume must bring the same device, and asks for the same address.
    var networkAddress: String? = nil

    func write(_ layout: QEMULayout) throws {
        try JSONEncoder().encode(self).write(to: URL(fileURLWithPath: layout.bootRecord), options: .atomic)
    }

    static func read(_ layout: QEMULayout) -> QEMUBootRecord? {
        FileManager.default.contents(atPath: layout.bootRecord).flatMap { try? JSONDecoder().decode(QEMUBootRecord.self, from: $0) }
    }
}
