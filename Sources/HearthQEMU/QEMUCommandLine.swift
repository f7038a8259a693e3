public import Foundation
public import HearthCore
public import HearthJail
public import HearthWire

/// The QEMU command line of a workspace microVM, in the jail's paths.
///
/// `microvm` with no PCI and no firmware option ROMs: virtio-mmio disks, one virtio-serial port for
/// the agent, a serial console written to a file, QMP for control, and with networking on one
/// virtio-net device on the tap the jailer opened in the workspace's namespace.
/// QEMU's own seccomp filter denies obsolete calls, privilege changes, spawning and resource
/// control, on top of the jailer's uid drop and private mount namespace.
struct QEMUCommandLine {
    enum Mode: String, Sendable, Codable { case kvm, tcg }

    static let qemuInJail = "/usr/bin/qemu-system-x86_64"
    static let kernelInJail = "/boot/vmlinuz"
    static let initramfsInJail = "/boot/initramfs.img"

    var mode: Mode
    var limits: ResourceLimits
    var name: String
    /// A probe boots the kernel and initramfs only, and the agent powers off at once.
    var probe = false
    var memoryBackend: QEMUConfiguration.MemoryBackend = .anonymous
    /// Resume from the saved state at descriptor 3 (which the jailer opened). With a shared memory
    /// file the host must first enable `x-ignore-shared`, so the migration is started over QMP.
    var incoming = false
    /// Under TCG the guest's TSC is the host's. The guest calibrates it (and its delay loop)
    /// against the emulated PIT, which fails when the host is busy and leaves the guest hanging
    /// in early boot; telling it the frequency skips both calibrations.
    var tscKHz: Int? = QEMUCommandLine.hostTSCKHz
    /// The workspace's network (networking on): a virtio-net device on the tap at descriptor 4,
    /// and the guest's address on the kernel command line, where its agent reads it at boot.
    var network: MicroVMNetwork?
    /// Every guest sits alone on its own link, so one address does for all (and a resumed
    /// machine's device keeps it whatever its new slot).
    static let guestMAC = "52:54:00:48:45:01"

    /// Read once: the host's TSC does not change while the server runs.
    static let hostTSCKHz: Int? = {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("cpu MHz") }),
              let value = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }),
              value > 100 else { return nil }
        return Int(value * 1000)
    }()

    var arguments: [String] {
        var args = [Self.qemuInJail, "-name", "hearth-\(name)", "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none", "-no-reboot"]
        switch mode {
        case .kvm:
            // Nested hosts may not virtualise IA32_ARCH_CAPABILITIES, which -cpu host would otherwise expose.
            args += ["-machine", "microvm,accel=kvm,x-option-roms=off", "-cpu", "host,arch-capabilities=off"]
        case .tcg:
            // A small translation cache: the default (1 GiB) would count against the VM's cgroup.
            args += ["-machine", "microvm,x-option-roms=off", "-accel", "tcg,tb-size=64"]
        }
        args += ["-m", "\(limits.memoryMiB)M", "-smp", String(max(1, Int(limits.cpus.rounded(.up))))]
        if memoryBackend == .sharedFile, !probe {
            args += ["-object", "memory-backend-file,id=ram,size=\(limits.memoryMiB)M,mem-path=/vm/memory.ram,share=on",
                     "-machine", "memory-backend=ram"]
        }
        args += ["-kernel", Self.kernelInJail, "-initrd", Self.initramfsInJail]
        var append = "console=ttyS0 panic=-1" + (probe ? " " + MicroVMContract.probeArgument : "")
        if let network, !probe { append += " " + network.commandLineWord }
        if mode == .tcg, let tscKHz {
            // Debian's kernel runs at HZ=250: loops per jiffy = cycles per second / 250.
            append += " tsc_early_khz=\(tscKHz) lpj=\(tscKHz * 1000 / 250)"
        }
        // Appended, so the boot log survives a pause and resume.
        args += ["-append", append, "-chardev", "file,id=console,path=/vm/console.log,append=on", "-serial", "chardev:console"]
        if !probe {
            args += [
                "-drive", "id=root,file=/vm/root.qcow2,format=qcow2,if=none,werror=report,rerror=report,discard=unmap",
                "-device", "virtio-blk-device,drive=root,serial=\(MicroVMContract.rootDiskSerial)",
                "-drive", "id=workspace,file=/vm/workspace.img,format=raw,if=none,werror=report,rerror=report,discard=unmap",
                "-device", "virtio-blk-device,drive=workspace,serial=\(MicroVMContract.workspaceDiskSerial)",
                "-device", "virtio-serial-device",
                "-chardev", "socket,id=agent,path=/vm/agent.sock,server=on,wait=off",
                // The id makes QEMU announce the guest opening the port (VSERPORT_CHANGE).
                "-device", "virtserialport,id=agentport,chardev=agent,name=\(MicroVMContract.agentPort)",
                "-qmp", "unix:/vm/qmp.sock,server=on,wait=off",
            ]
            if network != nil {
                args += ["-netdev", "tap,id=net0,fd=\(JailSpec.tapDescriptor)",
                         "-device", "virtio-net-device,netdev=net0,mac=\(Self.guestMAC)"]
            }
        }
        if incoming {
            args += ["-incoming", memoryBackend == .sharedFile ? "defer" : "fd:\(JailSpec.incomingDescriptor)"]
        }
        args += ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
        return args
    }
}
