public import Foundation
public import HearthCore
public import HearthRuntime
public import Synchronization

/// Disks of microVM workspaces.
///
/// An image's root filesystem becomes one read-only ext4 file, built once with `mkfs.ext4 -d`
/// (no loop mounts) and shared: each workspace's root disk is a qcow2 overlay on it. `/workspace`
/// is a separate disk per workspace, so it can be committed and restored on its own.
final class QEMUDisks: Sendable {
    /// Where a base disk appears inside every jail; overlays name it as their backing file.
    static let baseInJail = "/image/rootfs.ext4"
    private let configuration: QEMUConfiguration
    private let building = Mutex<[String: Task<String, any Error>]>([:])

    init(configuration: QEMUConfiguration) {
        self.configuration = configuration
    }

    private var qemuImg: String? { configuration.qemuImgPath ?? HostCommand.which("qemu-img") }
    private var mkfs: String {
        get throws {
            guard let path = HostCommand.which("mkfs.ext4") else {
                throw HearthError(.runtimeUnavailable, "mkfs.ext4 is not installed (Debian package e2fsprogs)")
            }
            return path
        }
    }

    /// The image's ext4 base disk, built on first use next to its unpacked root filesystem.
    func baseDisk(for image: ImageRef) async throws -> String {
        let path = URL(fileURLWithPath: image.rootfs).deletingLastPathComponent().path + "/rootfs.ext4"
        if FileManager.default.fileExists(atPath: path) { return path }
        let task = building.withLock { tasks -> Task<String, any Error> in
            if let existing = tasks[path] { return existing }
            let gib = configuration.rootDiskGiB
            let task = Task<String, any Error> {
                let temporary = path + ".tmp-\(getpid())"
                defer { try? FileManager.default.removeItem(atPath: temporary) }
                guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
                    throw HearthError(.runtimeFailed, "cannot create the root disk", detail: temporary)
                }
                let result = try await HostCommand.run(
                    [try mkfs, "-q", "-F", "-L", "hearth-root", "-d", image.rootfs, "-E", "root_owner=0:0,lazy_itable_init=1,lazy_journal_init=1",
                     temporary, "\(gib)G"], timeout: .seconds(600))
                guard result.succeeded else {
                    throw HearthError(.runtimeFailed, "cannot build the image's root disk", detail: "mkfs.ext4: \(result.stderr.suffix(500))")
                }
                chmod(temporary, 0o444)
                guard rename(temporary, path) == 0 else { throw HearthError(.runtimeFailed, "cannot store the root disk", detail: path) }
                return path
            }
            tasks[path] = task
            return task
        }
        defer { _ = building.withLock { $0.removeValue(forKey: path) } }
        return try await task.value
    }

    /// The workspace's root overlay and `/workspace` disk, made only if missing.
    ///
    /// `vm/` is writable by the VM, so nothing is built there by path: each disk is made in the
    /// root-owned state directory, handed to the VM's ids through its descriptor, and renamed into
    /// place. A disk that exists but is not a regular file (a symlink the VM planted) is refused.
    func prepare(layout: QEMULayout, base: String, workspaceMiB: Int, owner: (uid: UInt32, gid: UInt32)) async throws {
        try layout.makeDirectories(owner: owner)
        guard let qemuImg else { throw HearthError(.runtimeUnavailable, "qemu-img is not installed (Debian package qemu-utils)") }
        if try !VMFiles.existsRegular(layout.rootDisk) {
            let temporary = layout.base + "/root.qcow2.tmp"
            unlink(temporary)
            defer { unlink(temporary) }
            let size = try FileManager.default.attributesOfItem(atPath: base)[.size] as? UInt64 ?? 0
            // -u: the backing file is named by its path inside the jail, which the host does not have.
            let result = try await HostCommand.run([qemuImg, "create", "-q", "-f", "qcow2", "-u", "-F", "raw", "-b", Self.baseInJail,
                                                    temporary, String(size)])
            guard result.succeeded else { throw HearthError(.runtimeFailed, "cannot create the root overlay", detail: result.stderr) }
            try VMFiles.install(temporary, as: layout.rootDisk, owner: owner, mode: 0o600)
        }
        if try !VMFiles.existsRegular(layout.workspaceDisk) {
            let temporary = layout.base + "/workspace.img.tmp"
            unlink(temporary)
            defer { unlink(temporary) }
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw HearthError(.runtimeFailed, "cannot create the workspace disk", detail: "\(temporary): \(String(cString: strerror(errno)))") }
            close(fd)
            let result = try await HostCommand.run([try mkfs, "-q", "-F", "-L", "workspace", "-E", "lazy_itable_init=1,lazy_journal_init=1",
                                                    temporary, "\(workspaceMiB)M"])
            guard result.succeeded else {
                throw HearthError(.runtimeFailed, "cannot create the workspace disk", detail: "mkfs.ext4: \(result.stderr.suffix(500))")
            }
            try VMFiles.install(temporary, as: layout.workspaceDisk, owner: owner, mode: 0o600)
        }
        try layout.claim(owner: owner)
    }
}

/// Where one workspace's files live. `vm/` is the only directory the jailed QEMU can write.
struct QEMULayout {
    let base: String
    var vmDirectory: String { base + "/vm" }
    var jailRoot: String { base + "/jail" }
    var rootDisk: String { vmDirectory + "/root.qcow2" }
    var workspaceDisk: String { vmDirectory + "/workspace.img" }
    var agentSocket: String { vmDirectory + "/agent.sock" }
    var qmpSocket: String { vmDirectory + "/qmp.sock" }
    var console: String { vmDirectory + "/console.log" }
    /// Guest RAM as a shared file (`QEMUConfiguration.MemoryBackend.sharedFile`): while running it
    /// is the guest's memory; once paused it is the bulk of the saved state.
    var memoryFile: String { vmDirectory + "/memory.ram" }
    /// QEMU's and the jailer's own stderr; written by the host.
    var log: String { base + "/qemu.log" }
    var pidFile: String { base + "/qemu.pid" }
    /// The machine's saved state after a pause (root-owned; the jailer opens it for QEMU).
    var snapshot: String { base + "/snapshot.bin" }
    /// The acceleration the machine was started with; a snapshot resumes only under the same.
    var bootRecord: String { base + "/boot.json" }

    init(_ spec: SandboxSpec) { base = spec.stateDirectory }

    /// `vm/`, private to the VM's user, and the empty jail root. The state directory holding them
    /// stays root's, so the VM can never swap `vm/` itself for a symlink.
    func makeDirectories(owner: (uid: UInt32, gid: UInt32)) throws {
        try FileManager.default.createDirectory(atPath: vmDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: jailRoot, withIntermediateDirectories: true)
        guard fchownat(AT_FDCWD, vmDirectory, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) == 0,
              fchmodat(AT_FDCWD, vmDirectory, 0o700, 0) == 0 else {
            throw HearthError(.runtimeFailed, "cannot prepare the microVM's directory", detail: "\(vmDirectory): \(String(cString: strerror(errno)))")
        }
    }
    init(base: String) { self.base = base }
}
