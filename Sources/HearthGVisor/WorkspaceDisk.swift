public import Foundation
public import HearthCore
public import HearthRuntime

/// A gVisor workspace's disk of its own: a sparse ext4 image (`disk.img`, the workspace's
/// `disk_mib`) loop-mounted `nosuid,nodev` at `layer/`, which holds the overlay's upper and work
/// directories. A workspace that fills it gets ENOSPC from its own filesystem; the data directory
/// and other workspaces are untouched. Formatting a 16 GiB image with lazy init writes about 4 MiB
/// and takes about 20 ms.
enum WorkspaceDisk {
    static let defaultMiB = ResourceLimits.defaultDiskMiB

    /// Creates and formats the image if there is none yet.
    static func create(_ image: String, mib: Int) async throws {
        if FileManager.default.fileExists(atPath: image) { return }
        guard let mkfs = HostCommand.which("mkfs.ext4") ?? ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else {
            throw HearthError(.runtimeUnavailable, "cannot give the workspace a disk", detail: "mkfs.ext4 not found (Debian e2fsprogs)")
        }
        let partial = image + ".partial"
        let fd = open(partial, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HearthError(.runtimeFailed, "cannot give the workspace a disk", detail: "\(partial): errno \(errno)") }
        let (bytes, overflow) = Int64(mib).multipliedReportingOverflow(by: 1 << 20)
        let sized = !overflow && ftruncate(fd, off_t(bytes)) == 0
        close(fd)
        guard sized else { throw HearthError(.runtimeFailed, "cannot give the workspace a disk", detail: "truncate \(partial)") }
        let result = try await HostCommand.run([mkfs, "-q", "-F", "-m", "0", "-L", "hearth-layer",
                                                "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0", partial], timeout: .seconds(120))
        guard result.succeeded else {
            try? FileManager.default.removeItem(atPath: partial)
            throw HearthError(result.stderr.contains("No space") ? .noSpace : .runtimeFailed, "cannot give the workspace a disk",
                              detail: "mkfs.ext4: \(result.stderr.suffix(300))")
        }
        guard rename(partial, image) == 0 else { throw HearthError(.runtimeFailed, "cannot give the workspace a disk", detail: "rename \(partial)") }
    }

    /// Mounts the image at `mountPoint` (loop, nosuid, nodev) unless it already is, and makes the
    /// overlay's directories on it. The layer's root is the host's: the workspace writes only below `upper`.
    static func mount(_ image: String, at mountPoint: String, upper: String, work: String) async throws {
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        if !Overlay.isMounted(mountPoint) {
            let result = try await HostCommand.run(["/bin/mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noatime", image, mountPoint],
                                                   timeout: .seconds(60))
            guard result.succeeded else {
                throw HearthError(.runtimeFailed, "cannot mount the workspace's disk", detail: "mount: \(result.stderr.suffix(300))")
            }
        }
        for dir in [upper, work] where mkdir(dir, 0o755) != 0 && errno != EEXIST {
            throw HearthError(.runtimeFailed, "cannot mount the workspace's disk", detail: "mkdir \(dir): errno \(errno)")
        }
    }

    /// Unmounts the layer if nothing uses it (never lazily: a detached ext4 could still be
    /// mounted when the image is mounted again). The loop device goes with it (autoclear).
    /// Returns whether it is unmounted.
    @discardableResult
    static func unmount(_ mountPoint: String) -> Bool {
        while Overlay.isMounted(mountPoint) {
            if umount2(mountPoint, 0) != 0 { return false }
        }
        return true
    }
}
