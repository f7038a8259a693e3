import Foundation
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

@Suite(.timeLimit(.minutes(2))) struct AgentFileTests {
    let directory = NSTemporaryDirectory() + "hearth-agent-files-\(UUID().uuidString)"

    @Test func writeReadListStatMoveRemove() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let file = directory + "/a/b/data.bin"
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }

        let writer = try await agent.open(.writeFile(path: file, mode: 0o600, createParents: true))
        try await writer.send(.bytes, content)
        try await writer.sendEOF(.bytes)
        var written: UInt64?
        for try await event in writer {
            if case .control(.result(.written(let n))) = event { written = n; break }
        }
        writer.close()
        #expect(written == UInt64(content.count))

        let reader = try await agent.open(.readFile(path: file, offset: nil, length: nil))
        var read: [UInt8] = []
        var info: FileStat?
        for try await event in reader {
            if case .control(.result(.file(let s))) = event { info = s }
            if case .data(_, let b) = event { read += b }
            if case .eof = event { break }
        }
        reader.close()
        #expect(read == content)
        #expect(info?.size == UInt64(content.count))
        #expect(info?.mode == 0o600)

        guard case .directory(let entries) = try await agent.call(.listDirectory(path: directory + "/a/b")) else { Issue.record(); return }
        #expect(entries.map(\.name) == ["data.bin"])
        _ = try await agent.call(.move(from: file, to: directory + "/moved.bin", overwrite: false))
        guard case .file(let moved) = try await agent.call(.stat(path: directory + "/moved.bin")) else { Issue.record(); return }
        #expect(moved.kind == .file)
        _ = try await agent.call(.makeDirectory(path: directory + "/x/y/z", parents: true))
        _ = try await agent.call(.remove(path: directory, recursive: true))
        await #expect(throws: AgentError.self) { try await agent.call(.stat(path: directory)) }
    }

    @Test func errorsCarryCodes() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        do {
            _ = try await agent.call(.stat(path: "/no/such/path"))
            Issue.record("expected not_found")
        } catch let error as AgentError {
            #expect(error.wire.code == .notFound)
        }
        do {
            _ = try await agent.call(.stat(path: "relative/path"))
            Issue.record("expected invalid_argument")
        } catch let error as AgentError {
            #expect(error.wire.code == .invalidArgument)
        }
    }

    @Test func aWriteThatNeverFinishesLeavesTheOldFile() async throws {
        let agent = try await InProcessAgent.connect()
        let file = directory + "-keep.txt"
        try "old".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let writer = try await agent.open(.writeFile(path: file, mode: nil, createParents: false))
        try await writer.send(.bytes, Array("new and partial".utf8))
        writer.close()  // reset, no EOF
        _ = try await agent.call(.health)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "old")
        agent.close()
    }
}
