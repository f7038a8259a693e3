#if canImport(Glibc)
import Glibc
#endif
import CHearthJail
import HearthJail

// hearth-jailer [options] -- PROGRAM ARGS…   (see JailSpec; run by the QEMU runtime as root)
//
// Order matters: everything that needs privilege (cgroup, the snapshot file, mounts, device
// nodes) happens first; then the process leaves the host's filesystem, drops every id and
// capability with no way back, and becomes the VMM.

func fail(_ message: String) -> Never {
    let line = "hearth-jailer: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(70)
}

func check(_ rc: Int32, _ what: String) {
    if rc != 0 { fail("\(what): \(String(cString: strerror(errno)))") }
}

func bindMount(_ source: String, _ target: String, writable: Bool) {
    check(mount(source, target, nil, UInt(MS_BIND | MS_REC), nil), "bind \(source)")
    // What the VM can write it can never execute: QEMU runs nothing from /vm.
    let flags = UInt(MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV) | (writable ? UInt(MS_NOEXEC) : UInt(MS_RDONLY))
    check(mount(nil, target, nil, flags, nil), "remount \(target)")
}

func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

func makeTarget(_ path: String, directory: Bool) {
    var partial = ""
    let parts = path.split(separator: "/")
    for (index, part) in parts.enumerated() {
        partial += "/" + part
        if index == parts.count - 1 && !directory {
            let fd = open(partial, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
        } else {
            mkdir(partial, 0o755)
        }
    }
}

let spec: JailSpec
do { spec = try JailSpec.parse(Array(CommandLine.arguments.dropFirst())) } catch { fail("\(error)") }

// Its own session, so the server's terminal signals never reach the VM.
_ = setsid()
if let cgroup = spec.cgroup {
    do { try cgroup.apply(to: getpid()) } catch { fail("cgroup: \(error)") }
}
var incomingFD: Int32 = -1
if let incoming = spec.incoming {
    incomingFD = open(incoming, O_RDONLY)
    if incomingFD < 0 { fail("open \(incoming): \(String(cString: strerror(errno)))") }
}

check(hearth_jail_unshare_mounts(), "unshare the mount namespace")
var tapFD: Int32 = -1
if let namespace = spec.networkNamespace {
    check(hearth_jail_enter_network(namespace), "enter the network namespace \(namespace)")
    if let tap = spec.tap {
        tapFD = hearth_jail_open_tap(tap)
        if tapFD < 0 { fail("open the tap \(tap): \(String(cString: strerror(errno)))") }
    }
} else {
    check(hearth_jail_unshare_network(), "unshare the network namespace")
}
check(mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil), "make mounts private")
let root = spec.root
check(mount("tmpfs", root, "tmpfs", UInt(MS_NOSUID), "mode=0755,size=1m"), "mount the jail root")

// The system's programs and libraries, read-only; merged-/usr symlinks are copied as symlinks.
mkdir(root + "/usr", 0o755)
bindMount("/usr", root + "/usr", writable: false)
for top in ["bin", "sbin", "lib", "lib64", "lib32", "libx32"] {
    var buffer = [CChar](repeating: 0, count: 256)
    let n = readlink("/" + top, &buffer, buffer.count - 1)
    if n > 0 {
        symlink(String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self), root + "/" + top)
    } else if isDirectory("/" + top) {
        mkdir(root + "/" + top, 0o755)
        bindMount("/" + top, root + "/" + top, writable: false)
    }
}

// A /dev with only what QEMU needs.
mkdir(root + "/dev", 0o755)
check(mount("tmpfs", root + "/dev", "tmpfs", UInt(MS_NOSUID | MS_NOEXEC), "mode=0755,size=64k"), "mount /dev")
for (name, major, minor) in [("null", 1, 3), ("zero", 1, 5), ("random", 1, 8), ("urandom", 1, 9)] {
    check(hearth_jail_mknod_char(root + "/dev/" + name, 0o666, UInt32(major), UInt32(minor)), "mknod \(name)")
    // mknod's mode is masked by the umask.
    check(chmod(root + "/dev/" + name, 0o666), "chmod \(name)")
}
if spec.kvm {
    let kvm = root + "/dev/kvm"
    check(hearth_jail_mknod_char(kvm, 0o600, 10, 232), "mknod kvm")
    check(chown(kvm, spec.uid, spec.gid), "chown kvm")
}

for bind in spec.binds {
    let directory = isDirectory(bind.source)
    makeTarget(root + bind.target, directory: directory)
    bindMount(bind.source, root + bind.target, writable: bind.writable)
}
check(mount(nil, root, nil, UInt(MS_REMOUNT | MS_NOSUID | MS_RDONLY), "mode=0755,size=1m"), "make the jail root read-only")

check(chdir(root), "chdir into the jail")
check(chroot("."), "chroot")
check(chdir("/"), "chdir /")
check(hearth_jail_set_ids(spec.uid, spec.gid, nil, 0), "drop privileges")
if setuid(0) == 0 { fail("privileges were not dropped") }
check(hearth_jail_no_new_privs(), "no new privileges")
// The saved state is descriptor 3 and the tap descriptor 4, where the host's command line
// (`-incoming fd:3` or a later `migrate-incoming fd:3`, `-netdev tap,fd=4`) expects them. Both
// move above 4 first, so placing one never closes the other.
func place(_ high: Int32, at target: Int32, _ what: String) {
    guard high >= 0 else { return }
    if dup2(high, target) < 0 { fail("move \(what) to descriptor \(target): \(String(cString: strerror(errno)))") }
    close(high)
}
let highIncoming = incomingFD >= 0 ? fcntl(incomingFD, F_DUPFD, 10) : -1
let highTap = tapFD >= 0 ? fcntl(tapFD, F_DUPFD, 10) : -1
if (incomingFD >= 0 && highIncoming < 0) || (tapFD >= 0 && highTap < 0) { fail("move descriptors: \(String(cString: strerror(errno)))") }
if incomingFD >= 0 { close(incomingFD) }
if tapFD >= 0 { close(tapFD) }
place(highIncoming, at: JailSpec.incomingDescriptor, "the saved state")
place(highTap, at: JailSpec.tapDescriptor, "the tap")
check(hearth_jail_close_inherited(highIncoming >= 0 ? 1 : 0, highTap >= 0 ? 1 : 0), "close inherited descriptors")

let command = spec.command
let argv = command.map { strdup($0) } + [nil]
_ = hearth_jail_exec(command[0], argv)
fail("exec \(command[0]): \(String(cString: strerror(errno)))")
