#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

/// The agent as PID 1 of a microVM: it is the initramfs's `/init`.
///
/// It loads the few modules the Debian kernel keeps out of its image (virtio, ext4, vsock), mounts
/// the root disk and the `/workspace` disk, switches root, and then serves the agent protocol over
/// the `hearth.agent` virtio-serial port for the life of the machine. Any failure before that is
/// printed on the console, which the host keeps as the boot log, and the machine powers off.
public enum GuestInit {
    static let modulesDirectory = "/lib/hearth-modules"
    /// Where the agent appears inside the workspace, as in the gVisor runtime.
    public static let agentMountPoint = "/.hearth"

    public static func run() -> Never {
        signal(SIGPIPE, SIG_IGN)
        mountEarly()
        redirectOutputToConsole()
        let cmdline = (readText("/proc/cmdline") ?? "").trimmingSpaces()
        if cmdline.split(separator: " ").contains(Substring(MicroVMContract.probeArgument)) {
            // The runtime's KVM probe: reaching userspace is the whole test.
            say(MicroVMContract.probeMarker)
            powerOff()
        }
        do {
            try loadModules(cmdline: cmdline)
            try mountRoot()
            try switchRoot()
            try finishMounts()
        } catch {
            say("hearth-guest: boot failed: \(error)")
            powerOff()
        }
        // Nothing a workspace process does may read the per-boot secret from our memory.
        _ = hearth_set_nondumpable()
        _ = sethostname("hearth", 6)
        _ = hearth_interface_up("lo")
        configureNetwork(commandLine: cmdline)
        AgentServer.handleTermination()
        // Orphans are re-parented to PID 1: reap from boot, not from the first exec.
        ChildReaper.shared.start()
        let context = AgentContext(executablePath: agentMountPoint + "/hearth-guest")
        AgentServer.listen(path: AgentSocket.address, context: context)
        GuestSyncCommand.listen(relay: context.sync)
        GuestSyncCommand.installLink(agentPath: context.executablePath)
        guard let port = findDevice(in: "/sys/class/virtio-ports", prefix: "vport", attribute: "name",
                                    equals: MicroVMContract.agentPort, seconds: 10) else {
            say("hearth-guest: no virtio-serial port named \(MicroVMContract.agentPort)")
            powerOff()
        }
        say("hearth-guest: serving on \(port)")
        AgentServer.serve(device: port, context: context)
    }

    struct BootError: Error, CustomStringConvertible {
        var description: String
        init(_ what: String, _ err: Int32 = errno) {
            description = err == 0 ? what : "\(what): \(String(cString: strerror(err)))"
        }
    }

    // MARK: Steps

    /// /proc is already there: the C constructor `hearth_early_proc` mounted it before main.
    static func mountEarly() {
        for dir in ["/dev", "/sys", "/newroot"] { mkdir(dir, 0o755) }
        mount("devtmpfs", "/dev", "devtmpfs", 0, "mode=0755")
        mount("sysfs", "/sys", "sysfs", 0, nil)
    }

    static func redirectOutputToConsole() {
        let console = open("/dev/console", O_RDWR | O_NOCTTY)
        if console >= 0 {
            dup2(console, 1)
            dup2(console, 2)
            if console > 2 { close(console) }
        }
        let null = open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, 0); if null > 0 { close(null) } }
    }

    /// Loads `/lib/hearth-modules/*.ko` in the order the image builder resolved from their
    /// dependencies. Parameters the kernel command line gives a module (`virtio_mmio.device=…`,
    /// which QEMU's microvm adds for each virtio-mmio device) are passed to it, as modprobe would.
    static func loadModules(cmdline: String) throws {
        guard let order = readText(modulesDirectory + "/order") else { return }
        for name in order.split(separator: "\n").map(String.init) where !name.isEmpty {
            let prefix = underscored(name) + "."
            let params = cmdline.split(separator: " ").compactMap { word -> String? in
                underscored(String(word)).hasPrefix(prefix) ? String(word.dropFirst(prefix.count)) : nil
            }.joined(separator: " ")
            let fd = open(modulesDirectory + "/\(name).ko", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw BootError("open module \(name)") }
            let rc = hearth_finit_module(fd, params)
            let err = errno
            close(fd)
            if rc != 0 && err != EEXIST { throw BootError("load module \(name)", err) }
        }
    }

    /// Module names treat `-` and `_` alike.
    static func underscored(_ s: String) -> String { String(s.map { $0 == "-" ? "_" : $0 }) }

    /// Disks are told apart by the serial the host gave each (`hearth-root`, `hearth-workspace`),
    /// not by probe order, which virtio-mmio does not promise.
    static func mountRoot() throws {
        guard let root = waitForDisk(serial: MicroVMContract.rootDiskSerial, seconds: 20) else { throw BootError("the root disk did not appear", 0) }
        guard mount(root, "/newroot", "ext4", 0, nil) == 0 else { throw BootError("mount the root disk \(root)") }
        mkdir("/newroot/workspace", 0o755)
        if let workspace = waitForDisk(serial: MicroVMContract.workspaceDiskSerial, seconds: 2) {
            guard mount(workspace, "/newroot/workspace", "ext4", 0, nil) == 0 else { throw BootError("mount the workspace disk") }
        }
        // The agent stays reachable inside the workspace as in gVisor: a read-only bind of /init.
        mkdir("/newroot" + agentMountPoint, 0o755)
        let target = "/newroot" + agentMountPoint + "/hearth-guest"
        let placeholder = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0o755)
        if placeholder >= 0 { close(placeholder) }
        guard mount("/init", target, nil, UInt(MS_BIND), nil) == 0 else { throw BootError("bind the agent") }
        _ = mount(nil, target, nil, UInt(MS_BIND | MS_REMOUNT | MS_RDONLY), nil)
        for dir in ["dev", "proc", "sys"] {
            mkdir("/newroot/\(dir)", 0o755)
            guard mount("/\(dir)", "/newroot/\(dir)", nil, UInt(MS_MOVE), nil) == 0 else { throw BootError("move /\(dir)") }
        }
    }

    /// switch_root: the initramfs stays in memory (it holds the agent binary bound above).
    static func switchRoot() throws {
        guard chdir("/newroot") == 0 else { throw BootError("chdir /newroot") }
        guard mount(".", "/", nil, UInt(MS_MOVE), nil) == 0 else { throw BootError("move the root") }
        guard chroot(".") == 0, chdir("/") == 0 else { throw BootError("chroot") }
    }

    static func finishMounts() throws {
        mkdir("/dev/pts", 0o755)
        mkdir("/dev/shm", 0o1777)
        guard mount("devpts", "/dev/pts", "devpts", 0, "gid=5,mode=620,ptmxmode=666") == 0 else { throw BootError("mount devpts") }
        mount("tmpfs", "/dev/shm", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=1777")
        mkdir("/run", 0o755)
        mount("tmpfs", "/run", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=0755")
        mkdir("/tmp", 0o1777)
    }

    static func waitForDisk(serial: String, seconds: Int) -> String? {
        findDevice(in: "/sys/block", prefix: "vd", attribute: "serial", equals: serial, seconds: seconds)
    }

    /// Waits for a device under a sysfs class directory whose `attribute` reads `value`, and whose
    /// /dev node devtmpfs has made; returns that node.
    static func findDevice(in directory: String, prefix: String, attribute: String, equals value: String, seconds: Int) -> String? {
        for _ in 0..<(seconds * 50) {
            if let dir = opendir(directory) {
                defer { closedir(dir) }
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    guard name.hasPrefix(prefix) else { continue }
                    if readText("\(directory)/\(name)/\(attribute)")?.trimmingSpaces() == value, access("/dev/\(name)", F_OK) == 0 {
                        return "/dev/\(name)"
                    }
                }
            }
            usleep(20_000)
        }
        return nil
    }

    static func powerOff() -> Never {
        sync()
        hearth_power_off()
        while true { pause() }
    }

    static func say(_ line: String) { _ = Posix.writeAll(2, Array((line + "\n").utf8)) }

    static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        while let chunk = Posix.readSome(fd, max: 65536), !chunk.isEmpty { out += chunk }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == " " { s = s.dropLast() }
        return String(s)
    }
}
