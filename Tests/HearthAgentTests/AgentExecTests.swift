import Foundation
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// Collects a stream until the process exits.
struct Collected {
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    var exit: HearthWire.ExitStatus?
    var pid: Int32?
    var failure: WireError?
    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }

    static func collect(_ stream: HostStream) async throws -> Collected {
        var c = Collected()
        for try await event in stream {
            switch event {
            case .data(.stdout, let b), .data(.bytes, let b): c.stdout += b
            case .data(.stderr, let b): c.stderr += b
            case .control(.started(let pid)): c.pid = pid
            case .control(.exited(let status)): c.exit = status; return c
            case .control(.failed(let error)): c.failure = error; return c
            default: continue
            }
        }
        return c
    }
}

func run(_ agent: AgentConnection, _ argv: [String], stdin: String? = nil, timeoutMs: UInt64? = nil) async throws -> Collected {
    let stream = try await agent.open(.exec(ExecRequest(argv: argv, timeoutMs: timeoutMs)))
    defer { stream.close() }
    if let stdin { try await stream.send(.stdin, Array(stdin.utf8)) }
    try await stream.sendEOF(.stdin)
    return try await Collected.collect(stream)
}

@Suite(.timeLimit(.minutes(2))) struct AgentExecTests {
    @Test func separatesStdoutAndStderrAndReportsTheExitCode() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let result = try await run(agent, ["/bin/sh", "-c", "echo out; echo err >&2; exit 7"])
        #expect(result.out == "out\n")
        #expect(result.err == "err\n")
        #expect(result.exit == HearthWire.ExitStatus(code: 7))
        #expect(result.pid != nil)
    }

    @Test func passesStdinAndClosesIt() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let result = try await run(agent, ["/bin/cat"], stdin: "line one\nline two\n")
        #expect(result.out == "line one\nline two\n")
        #expect(result.exit?.code == 0)
    }

    /// A process that exits without reading its stdin ends the operation: the host's sender stops
    /// instead of waiting for credit that never comes, and the exit still arrives.
    @Test func stdinToAnExitedProcessStopsTheSenderAndKeepsTheExit() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let stream = try await agent.open(.exec(ExecRequest(argv: ["true"])))
        defer { stream.close() }
        let accepted = try await stream.send(.stdin, [UInt8](repeating: 0x61, count: 8 * WireLimits.initialWindow))
        #expect(!accepted)
        let collected = try await Collected.collect(stream)
        #expect(collected.exit?.code == 0)
        // After the exit the stream ends: the agent has nothing more to say.
        #expect(try await stream.next() == nil)
    }

    @Test func missingBinaryExitsWith127AndSaysSo() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let result = try await run(agent, ["definitely-not-a-command"])
        #expect(result.exit?.code == 127)
        #expect(result.err.contains("command not found"))
    }

    @Test func timeoutKillsTheProcessGroup() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let result = try await run(agent, ["/bin/sh", "-c", "sleep 30"], timeoutMs: 200)
        #expect(result.exit?.timedOut == true)
        #expect(result.exit?.signal == SIGKILL)
    }

    @Test func signalReachesTheProcess() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let stream = try await agent.open(.exec(ExecRequest(argv: ["/bin/sleep", "30"])))
        defer { stream.close() }
        for try await event in stream {
            if case .control(.started) = event { break }
        }
        try await stream.sendControl(.signal(SIGTERM))
        let result = try await Collected.collect(stream)
        #expect(result.exit?.signal == SIGTERM)
    }

    @Test func ptyRunsWithATerminal() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let stream = try await agent.open(.exec(ExecRequest(argv: ["/bin/sh", "-c", "tty >/dev/null && stty size"], pty: PTYSize(rows: 33, cols: 101))))
        defer { stream.close() }
        let result = try await Collected.collect(stream)
        #expect(result.out.contains("33 101"))
        #expect(result.exit?.code == 0)
    }

    /// Output is read only as fast as the host takes it: a producer of 20 MB must still be
    /// running while nobody reads, and every byte arrives once the host reads again.
    @Test func outputIsHeldBackByCreditNotBuffered() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let total = 20_000_000
        let stream = try await agent.open(.exec(ExecRequest(argv: ["/bin/sh", "-c", "head -c \(total) /dev/zero"])))
        defer { stream.close() }
        var pid: Int32?
        for try await event in stream {
            if case .control(.started(let p)) = event { pid = p; break }
        }
        let producer = try #require(pid)
        try await Task.sleep(for: .milliseconds(500))
        #expect(kill(producer, 0) == 0, "the producer should be blocked on its pipe, not finished into a buffer")
        let result = try await Collected.collect(stream)
        #expect(result.stdout.count == total)
        #expect(result.exit?.code == 0)
    }

    @Test func concurrentStreamsDoNotStarveEachOther() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        // A flood nobody reads holds only its own credit; a second stream still completes.
        let flood = try await agent.open(.exec(ExecRequest(argv: ["/bin/sh", "-c", "yes"])))
        let quick = try await run(agent, ["/bin/echo", "still here"])
        #expect(quick.out == "still here\n")
        try await flood.sendControl(.signal(SIGKILL))
        flood.close()
    }
}
