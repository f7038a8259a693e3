import Foundation
import HearthClient
import HearthServer
import HearthServerTestKit
import HearthTestKit
import Testing

/// A server stopped (as SIGTERM stops it) and started again on the same data directory keeps its
/// token, its users and its workspaces, and re-adopts the sandboxes that ran on. The runtime is the
/// test kit's ProcessRuntime (one instance outlives both servers, as sandboxes outlive a server).
@Suite(.serialized, .timeLimit(.minutes(2))) struct ServerRestartTests {
    @Test func aServerStartsAgainOnItsOwnDataDirectoryAndAdoptsItsWorkspaces() async throws {
        let data = ProcessHost.scratchDirectory("hearth-restart")
        let runtime = ProcessRuntime()
        let logger = ProcessHost.quietLogger
        let first = try await LiveServer.serveInProcess(HearthServerConfiguration(dataDirectory: data, port: 0), runtime: runtime, logger: logger)
        let ws = try await first.client.create(.init(name: "survivor"))
        #expect(ws.state == "running")
        #expect(try await first.client.run(ws.id, ["sh", "-c", "echo kept > kept.txt"]).code == 0)
        await first.stop()

        let second = try await LiveServer.serveInProcess(HearthServerConfiguration(dataDirectory: data, port: 0), runtime: runtime, logger: logger)
        #expect(second.token == first.token, "the admin token is the one written at first start")
        let listed = try await second.client.list()
        #expect(listed.map(\.id) == [ws.id])
        #expect(listed.first?.state == "running")
        let read = try await second.client.run(ws.id, ["cat", "kept.txt"])
        #expect(read.stdoutText == "kept\n")
        await second.stop()
    }
}
