import Foundation
import HearthCore

/// The copy-on-write layer of a workspace: a kernel overlayfs over the shared, read-only image.
enum Overlay {
    static func mount(lower: String, upper: String, work: String, target: String) throws {
        if isMounted(target) { return }
        let options = "lowerdir=\(lower),upperdir=\(upper),workdir=\(work)"
        guard Glibc.mount("overlay", target, "overlay", 0, options) == 0 else {
            let err = errno
            throw HearthError(err == ENOSPC ? .noSpace : .runtimeFailed, "cannot mount the workspace filesystem",
                              detail: "overlay on \(target): \(String(cString: strerror(err)))")
        }
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
