import Logging
import Synchronization
public import Foundation
public import HearthCore
public import HearthJail
public import HearthRuntime
public import HearthWire

extension QEMURuntime {
    /// Finds out whether KVM really works by booting the real kernel and initramfs with a deadline,
    /// not by looking for /dev/kvm: a paravirtual-only KVM opens fine and then crawls. Falls back
    /// to TCG, which is also booted once. The answer is kept for the life of this host boot.
    public func probe() async -> RuntimeAvailability {
        let result = await probeUncached()
        if let mode = result.mode, result.available { probedMode.withLock { $0 = QEMUCommandLine.Mode(rawValue: mode) } }
        return result
    }

    private func probeUncached() async -> RuntimeAvailability {
        guard qemu != nil else {
            return RuntimeAvailability(runtime: .qemu, available: false, reason: "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")
        }
        guard FileManager.default.isExecutableFile(atPath: configuration.jailerPath) else {
            return RuntimeAvailability(runtime: .qemu, available: false, reason: "the jailer is missing from \(configuration.agentDirectory); run scripts/setup.sh")
        }
        let assets: MicroVMAssets
        do { assets = try MicroVMAssets.locate(agentDirectory: configuration.agentDirectory) } catch {
            return RuntimeAvailability(runtime: .qemu, available: false, reason: (error as? HearthError)?.message ?? "\(error)")
        }
        let cacheFile = "\(configuration.probeCacheDirectory)/qemu-probe-\(assets.id)-\(configuration.acceleration.rawValue).json"
        let bootID = ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if let data = FileManager.default.contents(atPath: cacheFile),
           let cached = try? JSONDecoder().decode(CachedProbe.self, from: data), cached.bootID == bootID {
            return cached.availability
        }
        var kvmReason = "KVM was not tried (acceleration is set to tcg)"
        if configuration.acceleration != .tcg {
            let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
            if fd < 0 {
                kvmReason = "/dev/kvm cannot be opened: \(String(cString: strerror(errno)))"
            } else {
                close(fd)
                switch await bootProbe(assets: assets, mode: .kvm, deadline: configuration.kvmProbeDeadline) {
                case .success:
                    return remember(RuntimeAvailability(runtime: .qemu, available: true, mode: "kvm",
                                                        reason: "a KVM guest reached userspace within \(configuration.kvmProbeDeadline)"), cacheFile, bootID)
                case .failure(let why):
                    kvmReason = "/dev/kvm opens but a KVM guest did not reach userspace within \(configuration.kvmProbeDeadline) (\(why)); paravirtual-only KVM?"
                }
            }
        }
        if configuration.acceleration == .kvm {
            return RuntimeAvailability(runtime: .qemu, available: false, mode: "kvm", reason: kvmReason)
        }
        switch await bootProbe(assets: assets, mode: .tcg, deadline: configuration.tcgBootTimeout) {
        case .success:
            return remember(RuntimeAvailability(runtime: .qemu, available: true, mode: "tcg",
                                                reason: "software emulation (TCG), slow; \(kvmReason)"), cacheFile, bootID)
        case .failure(let why):
            return RuntimeAvailability(runtime: .qemu, available: false, mode: "tcg", reason: "a TCG guest did not boot: \(why); \(kvmReason)")
        }
    }

    private struct CachedProbe: Codable {
        var bootID: String
        var availability: RuntimeAvailability
    }

    private func remember(_ availability: RuntimeAvailability, _ path: String, _ bootID: String) -> RuntimeAvailability {
        try? FileManager.default.createDirectory(atPath: configuration.probeCacheDirectory, withIntermediateDirectories: true)
        if let data = try? JSONEncoder().encode(CachedProbe(bootID: bootID, availability: availability)) {
            _ = FileManager.default.createFile(atPath: path, contents: data)
        }
        return availability
    }

    private enum ProbeOutcome { case success, failure(String) }

    /// Boots the kernel and initramfs alone, jailed like a workspace; the agent prints a marker and
    /// powers off.
    private func bootProbe(assets: MicroVMAssets, mode: QEMUCommandLine.Mode, deadline: Duration) async -> ProbeOutcome {
        let directory = "\(configuration.probeCacheDirectory)/probe-\(mode.rawValue)-\(getpid())"
        let layout = QEMULayout(base: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let ids = VMIdentity.probe(configuration.vmUIDs)
            try layout.makeDirectories(owner: ids)
            var command = QEMUCommandLine(mode: mode, limits: ResourceLimits(cpus: 1, memoryMiB: 256), name: "probe")
            command.probe = true
            let cgroup = "probe-\(mode.rawValue)-\(getpid())"
            let jail = jailSpec(layout: layout, ids: ids, assets: assets, base: nil, mode: mode, incoming: nil, limits: command.limits,
                                cgroup: cgroup, command: command.arguments)
            let pid = try spawnJailer(jail, layout: layout)
            let end = ContinuousClock.now + deadline
            while Self.isAlive(pid), ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(20)) }
            let booted = VMFiles.tail(of: layout.console, lines: 200).contains(MicroVMContract.probeMarker)
            if Self.isAlive(pid) { kill(pid, SIGKILL) }
            try? await waitForExit(pid, deadline: .now + .seconds(5), force: true)
            await removeCgroup(cgroup)
            if booted { return .success }
            let log = Self.tail(of: layout.log, lines: 3).trimmingCharacters(in: .whitespacesAndNewlines)
            return .failure(log.isEmpty ? "no sign of life on the console" : log)
        } catch {
            return .failure("\(error)")
        }
    }
}
