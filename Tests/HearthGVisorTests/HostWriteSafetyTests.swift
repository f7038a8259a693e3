import Foundation
@testable import HearthGVisor
import Logging
import Testing

/// The host never writes through, nor reads through, a link that a workspace or an image made.
@Suite struct HostWriteSafetyTests {
    @Test func overlayOptionsRefuseSeparatorsAndTraversal() throws {
        #expect(try Overlay.options(lower: "/d/images/sha256-ab/rootfs", upper: "/d/w/upper", work: "/d/w/work")
            == "lowerdir=/d/images/sha256-ab/rootfs,upperdir=/d/w/upper,workdir=/d/w/work")
        for lower in ["/d/a,upperdir=/etc", "/d/a:/etc", "/d/a\\,b", "/d/../etc", "relative/rootfs", "/d/a\nb", "/d/a=b"] {
            #expect(throws: (any Error).self) { try Overlay.options(lower: lower, upper: "/d/w/upper", work: "/d/w/work") }
        }
    }

    /// An image whose /etc/ld.so.preload is a link to a host file (the operator's token, say) must
    /// not copy that file into the workspace.
    @Test func theImagesPreloadIsNotReadThroughALink() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-preload-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/rootfs/etc", withIntermediateDirectories: true)
        try "operator secret\n".write(toFile: root + "/secret", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/rootfs/etc/ld.so.preload", withDestinationPath: root + "/secret")
        let list = GVisorRuntime.preloadList(imageRootfs: root + "/rootfs", logger: Logger(label: "test"))
        #expect(!list.contains("secret"))
        #expect(list == "/.hearth/libhearth-statx.so\n")
        // A link higher up is refused the same way.
        try FileManager.default.removeItem(atPath: root + "/rootfs/etc/ld.so.preload")
        try FileManager.default.removeItem(atPath: root + "/rootfs/etc")
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try "/evil.so\n".write(toFile: root + "/elsewhere/ld.so.preload", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/rootfs/etc", withDestinationPath: root + "/elsewhere")
        #expect(GVisorRuntime.preloadList(imageRootfs: root + "/rootfs", logger: Logger(label: "test")) == "/.hearth/libhearth-statx.so\n")
        // A plain file's lines are kept, and ours is added once.
        try FileManager.default.removeItem(atPath: root + "/rootfs/etc")
        try FileManager.default.createDirectory(atPath: root + "/rootfs/etc", withIntermediateDirectories: true)
        try "/usr/lib/libmine.so\n/.hearth/libhearth-statx.so\n".write(toFile: root + "/rootfs/etc/ld.so.preload", atomically: true, encoding: .utf8)
        #expect(GVisorRuntime.preloadList(imageRootfs: root + "/rootfs", logger: Logger(label: "test"))
            == "/usr/lib/libmine.so\n/.hearth/libhearth-statx.so\n")
    }
}
