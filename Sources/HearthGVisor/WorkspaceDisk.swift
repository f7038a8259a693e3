import CHearthGuest
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

    /// Creates the image if there is none yet: a sparse copy of the formatted template for its
    /// size when `templates` (a host-owned directory) is given, else formatted on the spot. The
    /// copy moves and syncs the 4 MiB that `mkfs` writes in about 15 ms, against about 35 ms for
    /// `mkfs` itself (BENCHMARKS.md, cold create). Every copy shares its template's filesystem UUID,
    /// which ext4 does not mind (each is mounted on a loop device of its own).
    static func create(_ image: String, mib: Int, templates: String? = nil) async throws {
        if FileManager.default.fileExists(atPath: image) { return }
        let partial = image + ".partial"
        if let templates, let template = try? await template(mib: mib, in: templates) {
            unlink(partial)
            if copySparse(from: template, to: partial) {
                guard rename(partial, image) == 0 else { throw HearthError(.runtimeFailed, "cannot give the workspace a disk", detail: "rename \(partial)") }
                return
            }
            unlink(partial)
        }
        try await format(partial, mib: mib)
        guard rename(partial, image) == 0 else { throw HearthError(.runtimeFailed, "cannot give the workspace a disk", detail: "rename \(partial)") }
    }

    /// Distinct sizes that get a template: disk sizes are the tenant's to choose, and each
    /// template costs a few MiB of the host's disk for good. Creates of new sizes that race may
    /// each make one past the count (a few MiB each); the first sizes made keep their places.
    static let maxTemplates = 4
    /// Part of each template's name: bump it when `format`'s options change.
    static let templateFormat = "ext4-v1"

    /// The formatted image disks of `mib` are copied from, made on first use; nil when
    /// `maxTemplates` other sizes have one already.
    static func template(mib: Int, in directory: String) async throws -> String? {
        let path = "\(directory)/\(templateFormat)-\(mib)MiB.img"
        if FileManager.default.fileExists(atPath: path) { return path }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let made = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix("MiB.img") } ?? []
        guard made.count < maxTemplates else { return nil }
        // Two creates may race to make it: each formats its own file, and either rename is good.
        let partial = "\(path).\(UInt64.random(in: 0...UInt64.max)).partial"
        try await format(partial, mib: mib)
        guard rename(partial, path) == 0 else {
            unlink(partial)
            throw HearthError(.runtimeFailed, "cannot give the workspace a disk", detail: "rename \(partial)")
        }
        return path
    }

    /// A sparse file of `mib` MiB at `path`, formatted ext4 for an overlay's layer.
    static func format(_ path: String, mib: Int) async throws {
        guard let mkfs = HostCommand.which("mkfs.ext4") ?? ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else {
            throw HearthError(.runtimeUnavailable, "cannot give the workspace a disk", detail: "mkfs.ext4 not found (Debian e2fsprogs)")
        }
        let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HearthError(.runtimeFailed, "cannot give the workspace a disk", detail: "\(path): errno \(errno)") }
        let (bytes, overflow) = Int64(mib).multipliedReportingOverflow(by: 1 << 20)
        let sized = !overflow && ftruncate(fd, off_t(bytes)) == 0
        close(fd)
        guard sized else { throw HearthError(.runtimeFailed, "cannot give the workspace a disk", detail: "truncate \(path)") }
        let result = try await HostCommand.run([mkfs, "-q", "-F", "-m", "0", "-L", "hearth-layer",
                                                "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0", path], timeout: .seconds(120))
        guard result.succeeded else {
            try? FileManager.default.removeItem(atPath: path)
            throw HearthError(result.stderr.contains("No space") ? .noSpace : .runtimeFailed, "cannot give the workspace a disk",
                              detail: "mkfs.ext4: \(result.stderr.suffix(300))")
        }
    }

    /// Copies `source` to a new file `target`, holes kept as holes, and syncs it: a crash must not
    /// leave a `disk.img` that never mounts (`create` keeps an existing one). False on any failure.
    static func copySparse(from source: String, to target: String) -> Bool {
        let input = open(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { return false }
        defer { close(input) }
        let output = open(target, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard output >= 0 else { return false }
        defer { close(output) }
        var info = stat()
        guard fstat(input, &info) == 0, ftruncate(output, info.st_size) == 0 else { return false }
        var offset: off_t = 0
        while offset < info.st_size {
            let data = hearth_seek_data(input, offset)
            if data < 0 { return errno == ENXIO }  // no data past `offset`: the rest is a hole
            let hole = hearth_seek_hole(input, data)
            guard hole > data else { return false }
            var from = data
            var to = data
            while from < hole {
                let n = hearth_copy_file_range(input, &from, output, &to, Int(hole - from))
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    return false
                }
            }
            offset = hole
        }
        return fdatasync(output) == 0
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
