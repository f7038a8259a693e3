public import Foundation
public import HearthCore

/// The kernel and initramfs every microVM boots, built once by `scripts/build-microvm.sh` into
/// `AGENT_DIR/microvm/sha256-<digest>/` and named by `microvm/current`.
struct MicroVMAssets: Sendable {
    let directory: String
    let id: String
    var kernel: String { directory + "/vmlinuz" }
    var initramfs: String { directory + "/initramfs.img" }

    static func locate(agentDirectory: String) throws -> MicroVMAssets {
        let current = URL(fileURLWithPath: agentDirectory + "/microvm/current").resolvingSymlinksInPath()
        let fm = FileManager.default
        guard fm.fileExists(atPath: current.path + "/vmlinuz"), fm.fileExists(atPath: current.path + "/initramfs.img") else {
            throw HearthError(.runtimeUnavailable, "the microVM kernel and initramfs are not built; run scripts/setup.sh",
                              detail: "missing \(current.path)/{vmlinuz,initramfs.img}")
        }
        return MicroVMAssets(directory: current.path, id: current.lastPathComponent)
    }
}
