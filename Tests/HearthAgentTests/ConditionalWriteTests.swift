import Foundation
import HearthControlPlane
import HearthCore
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// An editor's save (`PUT files/content?if_mtime=…`) replaces a file only if it is unchanged since
/// it was read. The check used to be a `stat` in the route and then a separate write, so two saves
/// that read the same version could both pass it and the second silently overwrote the first. The
/// agent now checks under the lock it renames under.
@Suite(.timeLimit(.minutes(2))) struct ConditionalWriteTests {
    let directory = NSTemporaryDirectory() + "hearth-conditional-\(UUID().uuidString)"

    func upload(_ agent: WorkspaceAgent, _ path: String, _ content: [UInt8], ifUnchangedSince mtime: Double?) async throws -> UInt64 {
        let upload = try await agent.write(path, ifUnchangedSince: mtime)
        defer { upload.close() }
        // In pieces, so the two uploads interleave before either renames.
        for piece in stride(from: 0, to: content.count, by: 64 << 10) {
            guard try await upload.send(content[piece..<min(piece + (64 << 10), content.count)]) else { break }
            await Task.yield()
        }
        return try await upload.finish()
    }

    func attempt(_ body: () async throws -> UInt64) async -> Result<UInt64, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    func read(_ agent: WorkspaceAgent, _ path: String) async throws -> [UInt8] {
        let content = try await agent.read(path)
        defer { content.bytes.close() }
        var bytes: [UInt8] = []
        for try await chunk in content.bytes { bytes += chunk }
        return bytes
    }

    @Test func twoConcurrentConditionalWritesCannotBothSucceed() async throws {
        let connection = try await InProcessAgent.connect()
        defer { connection.close() }
        let agent = WorkspaceAgent(workspaceID: "w", connection: connection)
        let path = directory + "/race.txt"
        for round in 0..<20 {
            _ = try await upload(agent, path, Array("original \(round)\n".utf8), ifUnchangedSince: nil)
            let seen = try await agent.stat(path).mtime
            // Both saves read the same version; each is large enough to be in flight together.
            let a = [UInt8](repeating: UInt8(ascii: "a"), count: 512 << 10)
            let b = [UInt8](repeating: UInt8(ascii: "b"), count: 512 << 10)
            async let first = attempt { try await upload(agent, path, a, ifUnchangedSince: seen) }
            async let second = attempt { try await upload(agent, path, b, ifUnchangedSince: seen) }
            let results: [Result<UInt64, any Error>] = [await first, await second]
            let won = results.filter { if case .success = $0 { return true } else { return false } }
            #expect(won.count == 1, "round \(round): exactly one save wins, got \(won.count)")
            for case .failure(let error) in results {
                let refused = try #require(error as? HearthError)
                #expect(refused.code == HearthError.Code.conflict)
                #expect(refused.message == "the file changed on disk since it was opened")
            }
            let final = try await read(agent, path)
            #expect(final == a || final == b, "the file is one save, whole")
        }
        // No temporary file of the refused saves is left beside the target.
        #expect(try await agent.list(directory).map(\.name) == ["race.txt"])
    }

    /// File times tick coarsely (a few ms): saves in one tick used to share an mtime, so a caller
    /// holding the older one could overwrite the newer (CI saw it). Every save is now later.
    @Test func backToBackSavesNeverShareAnMtime() async throws {
        let connection = try await InProcessAgent.connect()
        defer { connection.close() }
        let agent = WorkspaceAgent(workspaceID: "w", connection: connection)
        let path = directory + "/ticks.txt"
        _ = try await upload(agent, path, Array("0".utf8), ifUnchangedSince: nil)
        var previous = try await agent.stat(path).mtime
        for round in 1...20 {
            _ = try await upload(agent, path, Array("\(round)".utf8), ifUnchangedSince: nil)
            let mtime = try await agent.stat(path).mtime
            #expect(mtime > previous + 0.0005, "round \(round): \(mtime) after \(previous)")
            previous = mtime
        }
    }

    @Test func aConditionalWriteChecksTheMtimeTheCallerSaw() async throws {
        let connection = try await InProcessAgent.connect()
        defer { connection.close() }
        let agent = WorkspaceAgent(workspaceID: "w", connection: connection)
        let path = directory + "/file.txt"
        // A file that does not exist yet is written (a new file's first save).
        #expect(try await upload(agent, path, Array("one".utf8), ifUnchangedSince: 12345) == 3)
        let seen = try await agent.stat(path).mtime
        #expect(try await upload(agent, path, Array("two".utf8), ifUnchangedSince: seen) == 3)
        // The version the caller saw is gone now: refused, and the file keeps the newer content.
        await #expect(throws: HearthError.self) { _ = try await upload(agent, path, Array("three".utf8), ifUnchangedSince: seen) }
        #expect(try await read(agent, path) == Array("two".utf8))
        // A non-finite mtime never reaches the agent (it has no JSON encoding).
        await #expect(throws: HearthError.self) { _ = try await agent.write(path, ifUnchangedSince: .nan) }
        #expect(!connection.isClosed)
    }

    /// An agent older than the conditional write would ignore the field and overwrite the file:
    /// the host refuses to send it one, with an error that says what to do.
    @Test func anOldAgentGetsAClearErrorNotAnUnconditionalWrite() async throws {
        let secret = InProcessAgent.randomSecret()
        let (result, host, _) = try await AgentHandshakeTests().handshake(
            answering: { AgentAuthentication.proof(secret: secret, challenge: $0) }, version: WireVersion.conditionalWrite - 1, secret: secret)
        defer { host.close() }
        _ = try result.get()
        let agent = WorkspaceAgent(workspaceID: "w", connection: host)
        do {
            _ = try await agent.write("/workspace/f", ifUnchangedSince: 1)
            Issue.record("an old agent was sent a conditional write")
        } catch let error as HearthError {
            #expect(error.code == HearthError.Code.conflict)
            #expect(error.message.contains("too old"))
        }
    }

    @Test func agentRefusalsBecomeHearthErrorsOnce() async throws {
        let connection = try await InProcessAgent.connect()
        defer { connection.close() }
        let agent = WorkspaceAgent(workspaceID: "w", connection: connection)
        await #expect { _ = try await agent.read(directory + "/missing") } throws: { ($0 as? HearthError)?.code == .notFound }
        await #expect { _ = try await agent.list(directory + "/missing") } throws: { ($0 as? HearthError)?.code == .notFound }
        // A refused tunnel keeps the agent's words (the tunnel route shows them) and is typed, so
        // the preview route can answer in its own.
        await #expect { _ = try await agent.tunnel(port: 1) } throws: {
            ($0 as? TunnelRefused)?.port == 1 && HearthError.from($0).code == .agentUnavailable
                && HearthError.from($0).message.contains("nothing listens on port 1")
        }
    }
}
