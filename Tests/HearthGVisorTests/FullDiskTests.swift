import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// The server's data directory fills up under a gVisor workspace: a server of its own on a 64 MiB
/// tmpfs, so the rest of the suite and the host are untouched.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FullDiskTests {
    @Test func aFullDiskIsAClearErrorThatLosesNothing() async throws {
        let root = try #require(ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"], "run through scripts/test.sh")
        let data = root + "/small-disk-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try #require(mount("tmpfs", data, "tmpfs", 0, "size=64m,mode=0755") == 0, "mount a small tmpfs: \(String(cString: strerror(errno)))")
        defer {
            umount2(data, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: data)
        }
        let server = try await LiveServer.start(dataDirectory: data)
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "filler", runtime: "gvisor"))
        _ = try await server.client.run(w.id, ["sh", "-c", "echo kept > /workspace/note"])

        let fill = try await server.client.run(w.id, ["dd", "if=/dev/zero", "of=/workspace/fill", "bs=1M", "count=128"])
        #expect(fill.code != 0)
        #expect(fill.stderrText.contains("No space left"), "\(fill.stderrText)")

        // An upload over an existing file fails with 507 and a code, and the old content stays.
        let blob = [UInt8](repeating: 7, count: 8 << 20)
        do {
            try await server.client.upload(w.id, path: "/workspace/note", length: Int64(blob.count), body: LiveServer.chunks(blob))
            Issue.record("a write to a full disk must fail")
        } catch let failure as HearthClient.Failure {
            #expect(failure.status == 507 && failure.code == "no_space", "\(failure)")
        }
        #expect(try await server.client.run(w.id, ["cat", "/workspace/note"]).stdoutText == "kept\n")
        #expect(try await server.client.run(w.id, ["sh", "-c", "ls -a /workspace | grep -c hearth || true"]).stdoutText == "0\n")
        #expect(try await server.client.health().status == "ok")
        #expect(try await server.client.get(w.id).state == "running")

        // Space freed: writes work again and the workspace deletes cleanly.
        _ = try await server.client.run(w.id, ["rm", "/workspace/fill"])
        try await server.client.upload(w.id, path: "/workspace/blob", length: Int64(blob.count), body: LiveServer.chunks(blob))
        #expect(try await server.client.run(w.id, ["stat", "-c", "%s", "/workspace/blob"]).stdoutText == "\(blob.count)\n")
        try await server.client.delete(w.id)
        #expect(try await server.client.list().isEmpty)
    }
}
