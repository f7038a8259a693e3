import Logging
import CHearthGuest
public import Foundation
public import HearthCore
public import HearthJail
public import HearthRuntime
import HearthWire

extension QEMURuntime {
    /// Starts QEMU through the jailer and waits for the guest agent, or for QEMU to die, or for the
    /// boot deadline; on failure nothing is left running and the error carries the console's tail.
    func launch(_ spec: SandboxSpec, _ boot: QEMUBootRecord, incoming: String?, what: String) async throws -> AgentConnection {
        let mode = boot.acceleration
        let layout = QEMULayout(spec)
        if let stale = runningPID(layout) { kill(stale, SIGKILL) }
        let assets = try MicroVMAssets.locate(agentDirectory: configuration.agentDirectory)
        // The control plane called `prepare` before a start; a resume reuses the same disks.
        let base = try await disks.baseDisk(for: spec.image)
        for socket in [layout.agentSocket, layout.qmpSocket] { unlink(socket) }
        let ids = try VMIdentity.ids(for: layout, id: spec.id, range: configuration.vmUIDs)
        try layout.claim(owner: ids)
        let network = try await attachNetwork(spec, layout, boot: boot, resuming: incoming != nil)
        var command = QEMUCommandLine(mode: mode, limits: spec.limits, name: spec.id, memoryBackend: boot.memory, incoming: incoming != nil)
        command.network = network.map { MicroVMNetwork(address: $0.address, prefixLength: $0.prefixLength, gateway: $0.gateway) }
        var jail = jailSpec(layout: layout, ids: ids, assets: assets, base: base, mode: mode, incoming: incoming, limits: spec.limits,
                            cgroup: spec.id, command: command.arguments)
        jail.networkNamespace = network?.namespacePath
        jail.tap = network?.tapName
        let pid = try spawnJailer(jail, layout: layout)
        let timeout = mode == .kvm ? configuration.kvmBootTimeout : configuration.tcgBootTimeout
        do {
            try await waitForGuest(layout, pid: pid, incoming: incoming == nil ? nil : boot.memory, deadline: .now + timeout)
            // A boot starts a new agent: it gets a fresh secret as the first frame on its port,
            // which it opened before any workspace process exists. A resumed one has its secret.
            let agent = try await connectAgent(layout, deadline: .now + timeout, provision: incoming == nil)
            logger.info("microVM ready", metadata: ["workspace.id": "\(spec.id)", "runtime.mode": "\(mode.rawValue)", "vm.pid": "\(pid)"])
            return agent
        } catch {
            kill(pid, SIGKILL)
            try? await waitForExit(pid, deadline: .now + .seconds(5), force: true)
            await removeCgroup(spec.id)
            let console = Self.tail(of: layout.console, lines: 15)
            let log = Self.tail(of: layout.log, lines: 5)
            throw HearthError(.runtimeFailed, "the microVM did not \(what) (\(mode.rawValue)): \(error)\n\(log)\n--- console ---\n\(console)",
                              detail: "\(error)")
        }
    }

    /// The machine's network, if it has one. A boot gets one when networking is on and records its
    /// address; a resume brings back the device its saved state has, asking for the same address
    /// (the guest's kernel still holds it), and a machine saved without one stays without.
    func attachNetwork(_ spec: SandboxSpec, _ layout: QEMULayout, boot: QEMUBootRecord, resuming: Bool) async throws -> WorkspaceNetworkAttachment? {
        if !resuming {
            guard let networking = configuration.networking else { return nil }
            let attachment = try await networking.attach(workspace: spec.id, device: .tap, preferring: nil)
            var recorded = boot
            recorded.networkAddress = attachment.address
            try recorded.write(layout)
            return attachment
        }
        guard let address = boot.networkAddress else { return nil }
        guard let networking = configuration.networking else {
            throw HearthError(.conflict, "the workspace was paused with a network, which this server does not give; start it again")
        }
        let attachment = try await networking.attach(workspace: spec.id, device: .tap, preferring: address)
        if attachment.address != address {
            // Another workspace took the address meanwhile (the server restarted): the guest keeps
            // its old one, which the filter drops, until the workspace is started again.
            logger.warning("resumed microVM's network address was taken", metadata: [
                "workspace.id": "\(spec.id)", "network.address": "\(attachment.address)", "network.booted_with": "\(address)"])
        }
        return attachment
    }

    /// `base` is nil for the probe, which boots without disks.
    func jailSpec(layout: QEMULayout, ids: (uid: UInt32, gid: UInt32), assets: MicroVMAssets, base: String?, mode: QEMUCommandLine.Mode,
                  incoming: String?, limits: ResourceLimits, cgroup: String, command: [String]) -> JailSpec {
        // Guest RAM plus QEMU itself and its translation cache.
        let memory = UInt64(limits.memoryMiB + 256) << 20
        var binds: [JailSpec.Bind] = [
            .init(source: layout.vmDirectory, target: "/vm", writable: true),
            .init(source: assets.directory, target: "/boot", writable: false),
        ]
        if let base { binds.append(.init(source: base, target: QEMUDisks.baseInJail, writable: false)) }
        return JailSpec(
            root: layout.jailRoot, uid: ids.uid, gid: ids.gid, binds: binds,
            kvm: mode == .kvm, cgroup: CgroupSpec(name: cgroup, memoryBytes: memory, cpus: max(limits.cpus, 0.1)),
            incoming: incoming, command: command)
    }

    func spawnJailer(_ jail: JailSpec, layout: QEMULayout) throws -> pid_t {
        guard FileManager.default.isExecutableFile(atPath: configuration.jailerPath) else {
            throw HearthError(.runtimeUnavailable, "the microVM jailer is not built; run scripts/setup.sh", detail: configuration.jailerPath)
        }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        let pid = try HostCommand.spawnDetached([configuration.jailerPath] + jail.arguments, stdio: null, stderrFile: layout.log)
        try String(pid).write(toFile: layout.pidFile, atomically: true, encoding: .utf8)
        // Reaped here; liveness is read from /proc, so a server restart loses nothing.
        Task.detached { _ = await HostCommand.wait(pid) }
        return pid
    }

    /// Connects to the agent's socket and greets it; callers have seen the guest open its port.
    /// A QEMU that dies mid-greeting closes the socket, which fails the handshake at once.
    func connectAgent(_ layout: QEMULayout, deadline: ContinuousClock.Instant, provision: Bool = false) async throws -> AgentConnection {
        let secret = provision ? try AgentSecret.create(in: layout.base) : try AgentSecret.load(from: layout.base)
        let fd = VMFiles.connect(socket: layout.agentSocket)
        guard fd >= 0 else {
            throw HearthError(.agentUnavailable, "cannot reach the microVM's agent socket", detail: String(cString: strerror(errno)))
        }
        let agent = try await AgentConnection.connect(socket: fd, logger: logger)
        do {
            _ = try await agent.handshake(secret: secret, provision: provision, timeout: max(.milliseconds(1), deadline - .now))
        } catch {
            agent.close()
            throw error
        }
        return agent
    }

    /// Waits until the guest agent has opened its port. The guest kernel discards whatever reaches a
    /// virtio-serial port nobody has open, so a hello sent earlier would be lost. A machine saved
    /// while stopped stays stopped after `-incoming`: once its state has loaded, it is let run.
    /// A QEMU that exits (a snapshot it cannot load, a crash) ends the wait at once. `incoming` is
    /// the memory backend of a resume, nil for a boot.
    func waitForGuest(_ layout: QEMULayout, pid: pid_t, incoming: QEMUConfiguration.MemoryBackend?,
                      deadline: ContinuousClock.Instant) async throws {
        @Sendable func check() throws {
            guard Self.isAlive(pid) else {
                throw HearthError(.runtimeFailed, incoming != nil ? "QEMU could not load the saved state" : "QEMU exited during boot")
            }
            guard ContinuousClock.now < deadline else { throw HearthError(.agentUnavailable, "the guest agent did not come up in time") }
        }
        var connected: QMPClient?
        while connected == nil {
            try check()
            connected = try? await onThread { try QMPClient(path: layout.qmpSocket) }
            if connected == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        guard let qmp = connected else { return }
        if let incoming {
            do {
                try await loadState(qmp, memory: incoming, check: check)
            } catch let error as HearthError {
                throw error
            } catch {
                // QEMU exits as soon as it finds the state unreadable, closing QMP under us.
                throw HearthError(.runtimeFailed, "QEMU could not load the saved state", detail: "\(error)")
            }
        }
        let open = try await onThread {
            let devices = try qmp.execute("query-chardev") as? [[String: Any]] ?? []
            return devices.contains { $0["label"] as? String == "agent" && $0["frontend-open"] as? Bool == true }
        }
        if open { return }
        // QEMU announces the guest opening its port; wait for that rather than asking.
        try await onThread {
            try qmp.waitForEvent(stillWaiting: check) { message in
                guard message["event"] as? String == "VSERPORT_CHANGE", let data = message["data"] as? [String: Any] else { return false }
                return data["open"] as? Bool == true
            }
        }
    }

    /// Feeds a resuming QEMU its saved state and lets the machine run once it has loaded.
    private func loadState(_ qmp: QMPClient, memory: QEMUConfiguration.MemoryBackend, check: @Sendable () throws -> Void) async throws {
        if memory == .sharedFile {
            // RAM is the shared file already; the stream carries only device state.
            try await onThread {
                try qmp.ignoreSharedMemory()
                try qmp.execute("migrate-incoming", ["uri": "fd:\(JailSpec.incomingDescriptor)"])
            }
        }
        while true {
            try check()
            let status = try await onThread { (try qmp.execute("query-status") as? [String: Any])?["status"] as? String ?? "" }
            if status == "running" { return }
            if ["paused", "postmigrate", "prelaunch"].contains(status) {
                try await onThread { _ = try qmp.execute("cont") }
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits for QEMU to exit by `deadline`; then kills it if `force`.
    func waitForExit(_ pid: pid_t, deadline: ContinuousClock.Instant, force: Bool) async throws {
        while Self.isAlive(pid), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if Self.isAlive(pid), force {
            kill(pid, SIGKILL)
            let hard = ContinuousClock.now + .seconds(10)
            while Self.isAlive(pid), ContinuousClock.now < hard { try await Task.sleep(for: .milliseconds(20)) }
        }
        if Self.isAlive(pid) { throw HearthError(.runtimeFailed, "QEMU did not exit", detail: "pid \(pid)") }
    }

    /// A cgroup can be removed only once its last process is reaped, which may lag its death.
    @discardableResult
    func removeCgroup(_ name: String) async -> Bool {
        for _ in 0..<100 {
            if CgroupSpec.remove(name: name) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return CgroupSpec.remove(name: name)
    }

    static func waitForMigration(_ qmp: QMPClient, deadline: ContinuousClock.Instant) throws {
        while ContinuousClock.now < deadline {
            let info = try qmp.execute("query-migrate") as? [String: Any] ?? [:]
            switch info["status"] as? String {
            case "completed": return
            case "failed", "cancelled":
                throw QMPClient.Failure(description: "migration \(info["status"] ?? ""): \(info["error-desc"] as? String ?? "")")
            default: usleep(5_000)
            }
        }
        throw QMPClient.Failure(description: "saving the machine's state took too long")
    }

    /// The QEMU process of this workspace, if it is alive (after a server restart too).
    func runningPID(_ layout: QEMULayout) -> pid_t? {
        guard let text = try? String(contentsOfFile: layout.pidFile, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), Self.isAlive(pid) else { return nil }
        // The pid may have been reused since: it must still be a QEMU.
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
        return comm.hasPrefix("qemu-system") || comm.hasPrefix("hearth-jailer") ? pid : nil
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        // A zombie is dead for our purposes; its waiter reaps it.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    /// Bounded, and never through a symlink: `console.log` is in the VM-writable `vm/`.
    static func tail(of path: String, lines: Int) -> String { VMFiles.tail(of: path, lines: lines) }
}
