import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// Issue 15, IDE bug 1: a pause closed every stream, and a terminal's shell lived on in the guest
/// with nobody able to reach it. A detachable terminal's process outlives its stream, and
/// `attachTerminal` on a new connection reaches the same shell, with what it printed meanwhile.
@Suite(.timeLimit(.minutes(1))) struct DetachableTerminalTests {
    static func read(_ stream: HostStream, until needle: String) async throws -> (text: String, exit: HearthWire.ExitStatus?) {
        var text = ""
        while let event = try await stream.next() {
            switch event {
            case .data(_, let bytes): text += String(decoding: bytes, as: UTF8.self)
            case .control(.exited(let status)): return (text, status)
            case .control(.failed(let error)): Issue.record("failed: \(error.message)"); return (text, nil)
            default: break
            }
            if !needle.isEmpty, text.contains(needle) { return (text, nil) }
        }
        return (text, nil)
    }

    @Test func aTerminalOutlivesItsConnectionAndIsReattachedWithWhatItPrintedMeanwhile() async throws {
        let key = "test-\(UInt64.random(in: 0...UInt64.max))"
        let first = try await InProcessAgent.connect()
        let stream = try await first.open(.exec(ExecRequest(argv: ["/bin/sh"], pty: PTYSize(rows: 24, cols: 80), session: key)))
        _ = try await stream.send(.bytes, Array("X=kept; echo ready-$((1+1)); (sleep 0.3; echo while-away-$((3+4))) &\n".utf8))
        #expect(try await Self.read(stream, until: "ready-2").text.contains("ready-2"))
        first.close()
        try await Task.sleep(for: .milliseconds(600))

        let second = try await InProcessAgent.connect()
        defer { second.close() }
        let again = try await second.open(.attachTerminal(session: key))
        #expect(try await Self.read(again, until: "while-away-7").text.contains("while-away-7"), "output while detached is replayed")
        _ = try await again.send(.bytes, Array("echo $X-$((2+3))\n".utf8))
        #expect(try await Self.read(again, until: "kept-5").text.contains("kept-5"), "the same shell, with its variable")
        _ = try await again.send(.bytes, Array("exit 3\n".utf8))
        let end = try await Self.read(again, until: "")
        #expect(end.exit?.code == 3)
    }

    @Test func anUnknownKeyIsRefused() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let missing = try await agent.open(.attachTerminal(session: "no-such-terminal"))
        var failed = false
        while let event = try await missing.next() {
            if case .control(.failed(let error)) = event { failed = error.code == .notFound }
        }
        #expect(failed)
    }

    @Test func aReusedKeyIsRefused() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let key = "test-\(UInt64.random(in: 0...UInt64.max))"
        let shell = try await agent.open(.exec(ExecRequest(argv: ["/bin/sh"], pty: PTYSize(rows: 24, cols: 80), session: key)))
        // Registered before the second open is sent (operations run on threads of their own).
        _ = try await shell.send(.bytes, Array("echo up-$((1+1))\n".utf8))
        #expect(try await Self.read(shell, until: "up-2").text.contains("up-2"))
        let twice = try await agent.open(.exec(ExecRequest(argv: ["/bin/sh"], pty: PTYSize(rows: 24, cols: 80), session: key)))
        var refused = false
        while let event = try await twice.next() {
            if case .control(.failed(let error)) = event { refused = error.code == .invalidArgument }
        }
        #expect(refused)
        _ = try await shell.send(.bytes, Array("exit\n".utf8))
        #expect(try await Self.read(shell, until: "").exit?.code == 0)
    }
}
