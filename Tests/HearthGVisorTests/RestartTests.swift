import Foundation
import HearthAPI
import HearthClient
import HearthServer
import HearthServerTestKit
import Logging
import Testing

@Suite(.serialized, .timeLimit(.minutes(5))) struct RestartTests {
    /// A second server on the same data directory re-adopts running sandboxes: their processes
    /// keep running and exec works through the new server.
    @Test func aRestartedServerReadoptsRunningWorkspaces() async throws {
        let first = try await LiveServer.start()
        let w = try await first.client.create(API.CreateWorkspaceBody(name: "survivor"))
        _ = try await first.client.run(w.id, ["sh", "-c", "echo before > /workspace/marker; nohup sleep 1000 >/dev/null 2>&1 &"])

        // The first server is gone before the second starts: one server per data directory.
        await first.stop()
        await #expect(throws: (any Error).self) { _ = try await first.client.health() }
        let second = try await LiveServer.start(dataDirectory: first.dataDirectory)
        let adopted = try await second.client.get("survivor")
        #expect(adopted.state == "running")
        let marker = try await second.client.run(w.id, ["cat", "/workspace/marker"])
        #expect(marker.stdoutText == "before\n")
        let sleeper = try await second.client.run(w.id, ["sh", "-c", "ps -eo comm | grep -c '^sleep$'"])
        #expect(sleeper.stdoutText == "1\n")
        try await second.client.delete(w.id)
        await second.stop()
    }
}
