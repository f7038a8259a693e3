import Foundation
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthServer

extension LiveServer {
    /// What a restarted server made of two workspaces: one whose agent secret was left alone, one
    /// whose host copy was overwritten (so even the real agent cannot prove it, as an impostor could not).
    public struct Adoption: Sendable {
        public var forgedState: String
        public var keptState: String
        /// Stdout of `echo adopted` in the kept workspace, through the restarted server.
        public var keptEcho: String
    }

    /// Overwrites the agent secret at `keyPath` (the host's copy, of workspace `forged`), stops this
    /// server as a stopping server does (channels close, sandboxes keep running), starts a second
    /// server on the same data directory, and reports what it made of `forged` and `kept`. Both
    /// workspaces are deleted through the second server before it returns.
    public func restartAfterForgingAgentSecret(at keyPath: String, forged: String, kept: String) async throws -> Adoption {
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: keyPath))
        chmod(keyPath, 0o600)
        await service.manager.detachAll()
        let second = try await LiveServer.start(dataDirectory: dataDirectory)
        let adoption = Adoption(forgedState: try await second.client.get(forged).state,
                                keptState: try await second.client.get(kept).state,
                                keptEcho: (try? await second.client.run(kept, ["echo", "adopted"]).stdoutText) ?? "")
        try await second.client.delete(kept)
        try await second.client.delete(forged)
        return adoption
    }
}
