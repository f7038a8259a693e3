import Foundation
import HearthAPI
import HearthClient
import HearthJail
import HearthServerTestKit
import Testing

/// A guest that does not come up in time: its own server with a boot deadline shorter than a TCG
/// boot, so the guest is still in its kernel when the deadline passes.
@Suite(.serialized, .timeLimit(.minutes(5))) struct MicroVMBootDeadlineTests {
    @Test func aGuestThatNeverComesUpFailsWithItsConsoleAndLeavesNothing() async throws {
        let server = try await LiveServer.start(host: { $0.qemuBootTimeout = .milliseconds(2500) })
        let mode = try await MicroVM.requireQEMU(server)
        try #require(mode == "tcg", "a KVM guest boots inside the deadline; this test needs TCG")
        do {
            _ = try await server.client.create(API.CreateWorkspaceBody(name: "late", runtime: "qemu", memory_mib: 256))
            Issue.record("a guest past its deadline must fail the create")
        } catch let failure as HearthClient.Failure {
            #expect(failure.message.contains("did not boot"), "\(failure.message)")
            // The tail of the console says how far the guest got.
            #expect(failure.message.contains("--- console ---"), "\(failure.message)")
        }
        let w = try #require(try await server.client.list().first { $0.name == "late" })
        #expect(w.state == "failed")
        #expect(w.failure?.contains("console") == true)
        #expect(MicroVM.qemuPID(server, w.id) == nil)
        #expect(CgroupSpec.directories(name: w.id).allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        #expect(try await server.client.health().status == "ok")
        try await server.client.delete(w.id)
        #expect(!FileManager.default.fileExists(atPath: MicroVM.stateDirectory(server, w.id)))
    }
}
