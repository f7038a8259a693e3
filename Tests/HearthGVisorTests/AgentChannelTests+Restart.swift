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
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: keyPath))
        chmod(keyPath, 0o600)

        // As a server that stops does: its channels close, the sandboxes keep running.
        await first.service.manager.detachAll()
        let second = try await LiveServer.start(dataDirectory: first.dataDirectory)
        #expect(try await second.client.get(forged.id).state == "failed")
        #expect(try await second.client.get(keep.id).state == "running")
        let echo = try await second.client.run(keep.id, ["echo", "adopted"])
        #expect(echo.stdoutText == "adopted\n")
        try await second.client.delete(keep.id)
        try await second.client.delete(forged.id)
    }
}
