import Foundation
import HearthAPI
import HearthClient
import HearthRuntime
import HearthServerTestKit
import Testing

/// Issue 14, finding 6, in a microVM: the agent holds its port, and a restarted server adopts the
/// VM only if the agent proves the per-boot secret the host provisioned at boot.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MicroVMAgentTests {
    @Test func aRestartedServerAdoptsOnlyAnAgentThatProvesTheSecret() async throws {
        let first = try await LiveServer.start()
        _ = try await MicroVM.requireQEMU(first)
        let keep = try await first.client.create(API.CreateWorkspaceBody(name: "vm-keep", runtime: "qemu", memory_mib: 256))
        let forged = try await first.client.create(API.CreateWorkspaceBody(name: "vm-forged", runtime: "qemu", memory_mib: 256))
        // Root in the VM cannot take the agent's port while the agent holds it.
        let port = try await first.client.run(keep.id, ["sh", "-c",
            "for p in /sys/class/virtio-ports/*; do [ \"$(cat $p/name)\" = hearth.agent ] && exec 3<>/dev/$(basename $p) && echo opened; done; echo done"])
        #expect(!port.stdoutText.contains("opened"), "\(port.stdoutText) \(port.stderrText)")
        let keyPath = MicroVM.stateDirectory(first, forged.id) + "/" + AgentSecret.fileName
        #expect(FileManager.default.fileExists(atPath: keyPath))
        let adoption = try await first.restartAfterForgingAgentSecret(at: keyPath, forged: forged.id, kept: keep.id)
        #expect(adoption.forgedState == "failed")
        #expect(adoption.keptState == "running")
        #expect(adoption.keptEcho == "adopted\n")
    }
}
