import Foundation
import HearthControlPlane
@testable import HearthServer
import HearthRuntime
import HearthSessions
import HearthTestKit
import HearthWire
import Synchronization
import Testing

/// The terminal's flow control and the hub's policy, on the real agent over a socketpair: a
/// client's numbers cannot trap or open the window, a client that stops reading is dropped with
/// what is queued for it bounded, and a terminal is its owner's unless shared read-only.
@Suite(.timeLimit(.minutes(2))) struct TerminalFlowTests {
    /// Polls `condition` until it holds or `seconds` pass.
    static func eventually(_ seconds: Double = 30, _ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    static func flood(_ agent: AgentConnection) async throws -> ExecSession {
        ExecSession(stream: try await agent.open(.exec(ExecRequest(argv: ["yes", "flood-line"]))), pty: false)
    }

    /// Issue 14 #5 and #8: `bytes = 2^64-1` trapped, and acknowledging without reading let output
    /// pile up in the client's queue without bound (98 MiB in 120 s).
    @Test func anAckWithoutReadingNeitherTrapsNorQueuesAndTheClientIsDropped() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let terminal = Terminal(id: 1, workspaceID: "w", backend: ExecSessionTerminalBackend(try await Self.flood(agent)), stallLimit: .milliseconds(400))
        let closed = Mutex(false)
        let (client, output) = await terminal.attach { closed.withLock { $0 = true } }
        let pump = Task { await terminal.pump() }
        defer { pump.cancel() }
        // The attacker acknowledges everything it can name, and reads nothing.
        for bytes: UInt64 in [.max, .max - 1, 1 << 63, 1 << 20, 0, .max] {
            await terminal.acknowledge(client, bytes: bytes)
        }
        let stalled = try await Self.eventually { await terminal.producedBytes > Terminal.window }
        #expect(stalled)
        for _ in 0..<20 { await terminal.acknowledge(client, bytes: .max) }
        // Dropped after the stall limit; then the terminal reads on for everyone else.
        #expect(try await Self.eventually { await terminal.clientCount == 0 })
        #expect(closed.withLock { $0 }, "the stalled client's connection was not closed")
        let held = await terminal.producedBytes
        #expect(try await Self.eventually { await terminal.producedBytes > held + 4 * Terminal.window })
        let bound = Terminal.window + UInt64(WireLimits.maxFramePayload)
        let queued = await terminal.peakQueued
        #expect(queued <= bound, "queued \(queued) bytes for a client that read nothing")
        var last: TerminalOutput?
        for await event in output { last = event }
        guard case .dropped(.tooSlow)? = last else {
            Issue.record("the stalled client's output did not end with a drop: \(String(describing: last))")
            return
        }
        await terminal.close()
    }

    /// A client that reads and acknowledges what it drew keeps the output flowing, and its
    /// acknowledgements never count more than it was sent.
    @Test func aReadingClientFlowsAndItsAcksAreCappedByWhatWasDelivered() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let terminal = Terminal(id: 1, workspaceID: "w", backend: ExecSessionTerminalBackend(try await Self.flood(agent)), stallLimit: .seconds(60))
        let (client, output) = await terminal.attach()
        let pump = Task { await terminal.pump() }
        defer { pump.cancel() }
        var drawn: UInt64 = 0
        for await event in output {
            guard case .data(let bytes) = event else { break }
            await terminal.delivered(client, bytes: bytes.count)
            // Over-acknowledging by far is clamped to what was delivered, and does not trap.
            await terminal.acknowledge(client, bytes: UInt64(bytes.count) &+ (1 << 40))
            drawn &+= UInt64(bytes.count)
            if drawn > 8 * Terminal.window { break }
        }
        #expect(drawn > 8 * Terminal.window)
        #expect(await terminal.clientCount == 1)
        #expect(await terminal.peakQueued <= Terminal.window + UInt64(WireLimits.maxFramePayload))
        await terminal.close()
    }

    @Test func advanceSaturatesAndNeverPassesItsLimit() {
        #expect(Terminal.advance(10, by: .max, limit: 100) == 100)
        #expect(Terminal.advance(.max - 1, by: .max, limit: .max) == .max)
        #expect(Terminal.advance(10, by: 5, limit: 100) == 15)
        #expect(Terminal.advance(50, by: 0, limit: 20) == 50)
    }

    /// Issue 14 #16: viewers attached to every live terminal and read its scrollback.
    @Test func aTerminalIsItsOwnersUnlessSharedReadOnly() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let hub = SessionHub().terminals
        let owner = TerminalCaller(key: "token:owner", canWrite: true)
        let member = TerminalCaller(key: "token:member", canWrite: true)
        let viewer = TerminalCaller(key: "user:viewer", canWrite: false)
        await #expect(throws: (any Error).self) { _ = try await hub.open(workspaceID: "w", backend: ExecSessionTerminalBackend(try await Self.flood(agent)), owner: viewer) }
        let terminal = try await hub.open(workspaceID: "w", backend: ExecSessionTerminalBackend(ExecSession(stream: try await agent.open(.exec(ExecRequest(argv: ["sleep", "30"]))), pty: false)),
                                          owner: owner)
        #expect(await hub.terminal(terminal.id, workspaceID: "w", for: owner)?.1 == .owner)
        for other in [member, viewer] {
            #expect(await hub.terminal(terminal.id, workspaceID: "w", for: other) == nil)
            #expect(await hub.list(workspaceID: "w", for: other).isEmpty)
            await #expect(throws: (any Error).self) { _ = try await hub.share(terminal.id, workspaceID: "w", shared: true, by: other) }
            await #expect(throws: (any Error).self) { _ = try await hub.remove(terminal.id, workspaceID: "w", by: other) }
        }
        #expect(await hub.list(workspaceID: "w", for: owner).map { $0.terminal.id } == [terminal.id])
        #expect(await hub.terminal(terminal.id, workspaceID: "other", for: owner) == nil)

        _ = try await hub.share(terminal.id, workspaceID: "w", shared: true, by: owner)
        for other in [member, viewer] {
            #expect(await hub.terminal(terminal.id, workspaceID: "w", for: other)?.1 == .readOnly)
            #expect(await hub.list(workspaceID: "w", for: other).map(\.access) == [.readOnly])
            await #expect(throws: (any Error).self) { _ = try await hub.remove(terminal.id, workspaceID: "w", by: other) }
        }
        // Unsharing detaches the read-only clients and hides the terminal again.
        let (_, watching) = await terminal.attach(readOnly: true)
        let (_, owning) = await terminal.attach(readOnly: false)
        _ = try await hub.share(terminal.id, workspaceID: "w", shared: false, by: owner)
        await terminal.dropReadOnlyClients()
        var last: TerminalOutput?
        for await event in watching { last = event }
        guard case .dropped(.unshared)? = last else { Issue.record("the viewer was not detached: \(String(describing: last))"); return }
        #expect(await terminal.clientCount == 1)
        #expect(await hub.terminal(terminal.id, workspaceID: "w", for: viewer) == nil)
        _ = owning
        _ = try await hub.remove(terminal.id, workspaceID: "w", by: owner)
        await terminal.close()
    }
}
