import Foundation
import HearthCore
@testable import HearthGVisor
import Testing

/// The OCI config.json runsc gets, byte for byte (keys sorted): any change to what a sandbox may do
/// (capabilities, mounts, limits, the agent's command) shows up as a diff of Golden/oci-config.json
/// that a reviewer reads. No sandbox is run. `HEARTH_UPDATE_GOLDEN=1` rewrites the file.
struct OCIBundleGoldenTests {
    @Test func theConfigRunscGetsIsTheReviewedOne() throws {
        let bundle = OCIBundle(id: "ws-golden", rootfs: "/var/lib/hearth/images/sha256-0123/rootfs", agentDirectory: "/usr/local/lib/hearth-agent",
                               limits: ResourceLimits(cpus: 2, memoryMiB: 1024), preloadFile: "/var/lib/hearth/workspaces/ws-golden/bundle/ld.so.preload")
        let object = try JSONSerialization.jsonObject(with: try bundle.configJSON())
        let canonical = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try GoldenFile.check(String(decoding: canonical, as: UTF8.self) + "\n", named: "oci-config.json")
    }
}

/// Compares text with a file under this directory's `Golden/`, or writes it when asked to.
enum GoldenFile {
    struct Mismatch: Error, CustomStringConvertible {
        let description: String
    }

    static func check(_ text: String, named name: String, directory: String = #filePath) throws {
        let path = URL(fileURLWithPath: directory).deletingLastPathComponent().appendingPathComponent("Golden/\(name)").path
        if ProcessInfo.processInfo.environment["HEARTH_UPDATE_GOLDEN"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        guard golden == text else {
            throw Mismatch(description: "\(name) differs from the golden file (\(path)); review, then rerun with HEARTH_UPDATE_GOLDEN=1:\n\(text)")
        }
    }
}
