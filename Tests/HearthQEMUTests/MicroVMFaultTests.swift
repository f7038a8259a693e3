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

        // The disk fills: a clear error that loses nothing, and writes work once space is freed.
        try await FullDiskCheck.run(server.client, w.id, fillMiB: 200, uploadBytes: 4 << 20)

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
