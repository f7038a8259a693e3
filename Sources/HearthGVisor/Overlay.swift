import Foundation
import HearthCore

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
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == target
        }
    }
}
