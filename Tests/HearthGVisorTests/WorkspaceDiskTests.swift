import Foundation
@testable import HearthGVisor
import HearthServerTestKit
import Testing

/// A gVisor workspace's disk is a sparse copy of a formatted template for its size (cold create,
/// issue 15), and a sound ext4 however it was made. Needs `mkfs.ext4` and `e2fsck`, not root.
@Suite(.serialized, .timeLimit(.minutes(2))) struct WorkspaceDiskTests {
    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "hearth-disk-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        ScratchDirectories.removeAtExit(path)
        return path
    }

    /// `e2fsck -fn`: a forced, read-only check; exit 0 only for a clean filesystem.
    static func isCleanExt4(_ image: String) throws -> Bool {
        let fsck = ["/sbin/e2fsck", "/usr/sbin/e2fsck"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "e2fsck"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: fsck)
        process.arguments = ["-fn", image]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static func status(_ path: String) -> stat {
        var info = stat()
        _ = lstat(path, &info)
        return info
    }

    @Test func disksAreSparseCopiesOfOneTemplatePerSize() async throws {
        let root = try Self.scratch()
        let templates = root + "/templates"
        try await WorkspaceDisk.create(root + "/a.img", mib: 256, templates: templates)
        let template = templates + "/\(WorkspaceDisk.templateFormat)-256MiB.img"
        let made = Self.status(template)
        #expect(made.st_size == 256 << 20)
        try await WorkspaceDisk.create(root + "/b.img", mib: 256, templates: templates)
        #expect(Self.status(template).st_ino == made.st_ino && Self.status(template).st_mtim.tv_sec == made.st_mtim.tv_sec, "made once")

        for disk in ["a", "b"] {
            let image = root + "/\(disk).img"
            let info = Self.status(image)
            #expect(info.st_size == 256 << 20)
            #expect(Int(info.st_blocks) * 512 < 32 << 20, "holes stay holes: \(info.st_blocks) blocks")
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(FileManager.default.contentsEqual(atPath: image, andPath: template))
            #expect(try Self.isCleanExt4(image))
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/a.img.partial"))
    }

    /// Sizes are the tenant's to choose: past `maxTemplates` sizes, disks are formatted one by one
    /// instead of leaving a template each on the host.
    @Test func templatesAreBoundedAndDisksBeyondThemAreFormatted() async throws {
        let root = try Self.scratch()
        let templates = root + "/templates"
        for (i, mib) in [64, 80, 96, 112, 128].enumerated() {
            try await WorkspaceDisk.create(root + "/\(i).img", mib: mib, templates: templates)
            #expect(try Self.isCleanExt4(root + "/\(i).img"))
        }
        let kept = try FileManager.default.contentsOfDirectory(atPath: templates).filter { $0.hasSuffix(".img") }
        #expect(kept.count == WorkspaceDisk.maxTemplates, "\(kept)")
        #expect(!kept.contains("\(WorkspaceDisk.templateFormat)-128MiB.img"))
        // And without templates at all, as before.
        try await WorkspaceDisk.create(root + "/plain.img", mib: 64)
        #expect(try Self.isCleanExt4(root + "/plain.img"))
    }
}
