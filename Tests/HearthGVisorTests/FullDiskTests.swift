import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// A gVisor workspace fills its disk: a server of its own on a 128 MiB tmpfs, the workspace's own
/// ext4 disk 64 MiB, so the rest of the suite and the host are untouched either way.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FullDiskTests {
    @Test func aFullDiskIsAClearErrorThatLosesNothing() async throws {
        let root = try #require(ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"], "run through scripts/test.sh")
        let data = root + "/small-disk-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try #require(mount("tmpfs", data, "tmpfs", 0, "size=128m,mode=0755") == 0, "mount a small tmpfs: \(String(cString: strerror(errno)))")
        defer {
            umount2(data, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: data)
        }
        let server = try await LiveServer.start(dataDirectory: data)
        // A disk of its own smaller than the data directory's free space, so the workspace's own
        // filesystem is what fills (the sparse image never outgrows the tmpfs).
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "filler", runtime: "gvisor", disk_mib: 64))
        _ = try await server.client.run(w.id, ["sh", "-c", "echo kept > /workspace/note"])

        try await FullDiskCheck.run(server.client, w.id, fillMiB: 128, uploadBytes: 8 << 20)
        #expect(try await server.client.health().status == "ok")
        try await server.client.delete(w.id)
        #expect(try await server.client.list().isEmpty)
    }
}
