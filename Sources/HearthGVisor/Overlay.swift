public import Foundation
public import HearthCore

/// The copy-on-write layer of a workspace: a kernel overlayfs over the shared, read-only image.
enum Overlay {
    static func mount(lower: String, upper: String, work: String, target: String) throws {
        if isMounted(target) { return }
        let options = try self.options(lower: lower, upper: upper, work: work)
        // nosuid, nodev: a set-id file or device node in the layer means nothing on the host.
        guard Glibc.mount("overlay", target, "overlay", UInt(MS_NOSUID | MS_NODEV), options) == 0 else {
            let err = errno
            throw HearthError(err == ENOSPC ? .noSpace : .runtimeFailed, "cannot mount the workspace filesystem",
                              detail: "overlay on \(target): \(String(cString: strerror(err)))")
        }
    }

    /// overlayfs splits its options at `,` and its lower layers at `:`, and `\` escapes; a path with
    /// any of these (or a newline) could add layers or options, so it is refused rather than escaped.
    static func options(lower: String, upper: String, work: String) throws -> String {
        for path in [lower, upper, work] {
            guard path.hasPrefix("/"), !path.contains(where: { ",:\\\n=".contains($0) }),
                  !path.split(separator: "/").contains("..") else {
                throw HearthError(.runtimeFailed, "the workspace filesystem cannot be mounted", detail: "unsafe overlay path: \(path)")
            }
        }
        return "lowerdir=\(lower),upperdir=\(upper),workdir=\(work)"
    }

    static func unmount(_ target: String) {
        while isMounted(target) {
            if umount2(target, Int32(MNT_DETACH)) != 0 { return }
        }
    }

    static func isMounted(_ target: String) -> Bool {
        mountPoints().contains(target)
    }

    /// The mount points of this mount namespace, read whole with read(2): a proc file has no size,
    /// and a table of many workspaces' mounts is longer than one page.
    static func mountPoints() -> Set<String> {
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < 64 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[..<n])
        }
        var points = Set<String>()
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5)
            if fields.count > 4 { points.insert(String(decoding: fields[4], as: UTF8.self)) }
        }
        return points
    }
}
