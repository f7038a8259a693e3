import Foundation
import HearthAPI
import HearthClient
import HearthRuntime
import HearthServerTestKit
import Testing

extension AgentChannelTests {
    /// Issue 14, finding 6, end to end: a restarted server re-adopts a workspace only if its agent
    /// proves the secret on file. Changing the host's copy makes the real agent stand in for any
    /// impostor: that workspace is marked failed, not adopted, and its neighbour is unaffected.
    @Test func aRestartedServerDoesNotAdoptAnAgentThatCannotProveTheSecret() async throws {
        let first = try await LiveServer.start()
        let keep = try await first.client.create(API.CreateWorkspaceBody(name: "keep"))
        let forged = try await first.client.create(API.CreateWorkspaceBody(name: "forged"))
        let keyPath = first.dataDirectory + "/workspaces/" + forged.id + "/" + AgentSecret.fileName
        #expect(FileManager.default.fileExists(atPath: keyPath))
        let adoption = try await first.restartAfterForgingAgentSecret(at: keyPath, forged: forged.id, kept: keep.id)
        #expect(adoption.forgedState == "failed")
        #expect(adoption.keptState == "running")
        #expect(adoption.keptEcho == "adopted\n")
    }
}
