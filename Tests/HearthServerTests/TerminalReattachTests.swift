import HearthControlPlane
import HearthCore
import HearthRuntime
@testable import HearthServer
import HearthSessions
import HearthTestKit
import HearthWire
import Synchronization
import Testing

/// A terminal whose channel goes away suspends and re-binds the same shell through `reattach`,
/// with its clients still attached; without a way back it ends as before.
@Suite(.timeLimit(.minutes(1))) struct TerminalReattachTests {
    static func until(_ output: inout AsyncStream<TerminalOutput>.Iterator, contains needle: String, text: inout String) async -> Bool {
        while let event = await output.next() {
            guard case .data(let bytes) = event else { return false }
            text += String(decoding: bytes, as: UTF8.self)
            if text.contains(needle) { return true }
        }
        return false
    }

    @Test func aTerminalWhoseChannelDropsReachesTheSameShellAgain() async throws {
        let key = "test-\(UInt64.random(in: 0...UInt64.max))"
        let first = try await InProcessAgent.connect()
        let stream = try await first.open(.exec(ExecRequest(argv: ["/bin/sh"], pty: PTYSize(rows: 24, cols: 80), session: key)))
        let second = Mutex<AgentConnection?>(nil)
        let reattaches = Mutex(0)
        let terminal = Terminal(id: 1, workspaceID: "w", backend: ExecSessionTerminalBackend(ExecSession(stream: stream, pty: true))) {
            reattaches.withLock { $0 += 1 }
            let agent = try await InProcessAgent.connect()
            second.withLock { $0 = agent }
            return ExecSessionTerminalBackend(ExecSession(stream: try await agent.open(.attachTerminal(session: key)), pty: true))
        }
        let (client, output) = await terminal.attach()
        var iterator = output.makeAsyncIterator()
        let pump = Task { await terminal.pump() }
        defer { pump.cancel() }
        var text = ""
        try await terminal.input(Array("KEPT=there; echo one-$((0+1))\n".utf8))
        #expect(await Self.until(&iterator, contains: "one-1", text: &text))
        await terminal.acknowledge(client, bytes: .max)

        first.close()
        // The same client, on the same terminal, reaches the same shell.
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if reattaches.withLock({ $0 }) == 1, !(await terminal.suspended) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await terminal.input(Array("echo $KEPT-$((1+1))\n".utf8))
        _ = await Self.until(&iterator, contains: "there-2", text: &text)
        #expect(text.contains("there-2"))
        #expect(reattaches.withLock { $0 } == 1)
        let (exited, suspended) = (await terminal.exit, await terminal.suspended)
        #expect(exited == nil && !suspended)
        try await terminal.input(Array("exit 4\n".utf8))
        var exit: TerminalExit?
        while let event = await iterator.next() { if case .exited(let status, _) = event { exit = status } }
        #expect(exit?.code == 4)
        second.withLock { $0?.close() }
    }

    @Test func withoutAWayBackTheTerminalEndsAsBefore() async throws {
        let agent = try await InProcessAgent.connect()
        let stream = try await agent.open(.exec(ExecRequest(argv: ["sleep", "30"])))
        let terminal = Terminal(id: 1, workspaceID: "w", backend: ExecSessionTerminalBackend(ExecSession(stream: stream, pty: true))) {
            throw HearthError(.conflict, "the workspace is deleted")
        }
        let (_, output) = await terminal.attach()
        let pump = Task { await terminal.pump() }
        defer { pump.cancel() }
        agent.close()
        var message: String?
        for await event in output { if case .exited(_, let text) = event { message = text } }
        #expect(message?.contains("the workspace is deleted") == true, "\(String(describing: message))")
    }
}
