import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// Faults on one microVM: its disk filling up, QEMU killed under it, and a corrupt snapshot. A full
/// disk is a clear error that loses nothing; the others leave a failed workspace with a reason that
/// starts again, keeping its /workspace disk.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MicroVMFaultTests {
    @Test func aFullDiskACrashedQEMUAndACorruptSnapshotFailTheWorkspaceAlone() async throws {
        let server = try await LiveServer.shared.value
        _ = try await MicroVM.requireQEMU(server)
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "faults", runtime: "qemu", memory_mib: 256, disk_mib: 96))
        #expect(w.disk_mib == 96)
        _ = try await server.client.run(w.id, ["sh", "-c", "echo kept > /workspace/note && sync"])

        // The disk fills: the writer gets ENOSPC, an upload a 507 with a clear code, and the file it
        // would have replaced is intact. Freeing space makes writes work again.
        let fill = try await server.client.run(w.id, ["dd", "if=/dev/zero", "of=/workspace/fill", "bs=1M", "count=200"])
        #expect(fill.code != 0)
        #expect(fill.stderrText.contains("No space left"), "\(fill.stderrText)")
        let blob = [UInt8](repeating: 7, count: 4 << 20)
        do {
            try await server.client.upload(w.id, path: "/workspace/note", length: Int64(blob.count), body: LiveServer.chunks(blob))
            Issue.record("a write to a full disk must fail")
        } catch let failure as HearthClient.Failure {
            #expect(failure.status == 507 && failure.code == "no_space", "\(failure)")
        }
        #expect(try await server.client.run(w.id, ["cat", "/workspace/note"]).stdoutText == "kept\n")
        #expect(try await server.client.run(w.id, ["sh", "-c", "ls -a /workspace | grep -c hearth || true"]).stdoutText == "0\n")
        #expect(try await server.client.get(w.id).state == "running")
        _ = try await server.client.run(w.id, ["rm", "/workspace/fill"])
        try await server.client.upload(w.id, path: "/workspace/blob", length: Int64(blob.count), body: LiveServer.chunks(blob))
        #expect(try await server.client.run(w.id, ["stat", "-c", "%s", "/workspace/blob"]).stdoutText == "\(blob.count)\n")

        // QEMU dies: the channel closes, the workspace is failed with a reason, the server carries on.
        let pid = try #require(MicroVM.qemuPID(server, w.id))
        kill(pid, SIGKILL)
        #expect(try await MicroVM.waitForState(server.client, w.id, "failed") == "failed")
        #expect(try await server.client.get(w.id).failure != nil)
        #expect(try await server.client.health().status == "ok")
        #expect(try await server.client.lifecycle(w.id, "start").state == "running")
        #expect(try await server.client.run(w.id, ["cat", "/workspace/note"]).stdoutText == "kept\n")

        // A corrupt snapshot: resume refuses with a clear error and nothing is left running.
        #expect(try await server.client.lifecycle(w.id, "pause").state == "paused")
        let snapshot = MicroVM.stateDirectory(server, w.id) + "/snapshot.bin"
        let handle = try #require(FileHandle(forWritingAtPath: snapshot))
        try handle.seek(toOffset: 4)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096))
        try handle.close()
        do {
            _ = try await server.client.lifecycle(w.id, "resume")
            Issue.record("a corrupt snapshot must not resume")
        } catch let failure as HearthClient.Failure {
            #expect(failure.message.contains("saved state"), "\(failure.message)")
        }
        #expect(MicroVM.qemuPID(server, w.id) == nil)
        #expect(try await server.client.get(w.id).state == "failed")
        #expect(try await server.client.lifecycle(w.id, "start").state == "running")
        #expect(try await server.client.run(w.id, ["cat", "/workspace/note"]).stdoutText == "kept\n")
        try await server.client.delete(w.id)
    }
}
