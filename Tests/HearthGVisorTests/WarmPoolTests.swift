import Foundation
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthServerTestKit
import Testing

/// A server of its own with a warm pool of one gVisor sandbox.
@Suite(.serialized, .timeLimit(.minutes(5))) struct WarmPoolTests {
    @Test func aCreateClaimsAWarmSandboxAndThePoolRefills() async throws {
        let server = try await LiveServer.start { $0.warmPoolSize = 1 }
        let manager = server.service.manager
        let warm = try await Self.poolReady(manager, count: 1)
        // Pooled sandboxes are the server's, not anyone's workspaces.
        #expect(try await server.client.list().isEmpty)

        let claimed = try await server.client.create(API.CreateWorkspaceBody(name: "claimed"))
        #expect(warm.contains(claimed.id), "a matching create takes the booted sandbox")
        #expect(claimed.name == "claimed" && claimed.state == "running")
        #expect(try await server.client.run(claimed.id, ["sh", "-c", "echo $((6 * 7))"]).stdoutText == "42\n")

        // The pool refills with a new sandbox, and a create with other limits boots its own.
        let refilled = try await Self.poolReady(manager, count: 1)
        #expect(!refilled.contains(claimed.id))
        let custom = try await server.client.create(API.CreateWorkspaceBody(name: "custom", memory_mib: 512))
        #expect(!refilled.contains(custom.id))
        #expect(await manager.warmPoolReady() == refilled)
        #expect(try await server.client.list().map(\.name).sorted() == ["claimed", "custom"])

        for id in [claimed.id, custom.id] { try await server.client.delete(id) }
        // A pooled sandbox belongs to no tenant, so no API caller can name it; the server removes it.
        do {
            try await server.client.delete(refilled[0])
            Issue.record("a pooled sandbox must not be reachable through the API")
        } catch let failure as HearthClient.Failure {
            #expect(failure.status == 404)
        }
        for id in refilled { _ = try await manager.perform(.delete(id)) }
    }

    /// Waits until the pool holds `count` claimable sandboxes and returns their ids.
    static func poolReady(_ manager: WorkspaceManager, count: Int) async throws -> [String] {
        for _ in 0..<300 {
            let ready = await manager.warmPoolReady()
            if ready.count >= count { return ready }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PoolNotReady()
    }

    struct PoolNotReady: Error {}
}
