import Foundation
import HearthAgent
import HearthCore
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// The `syncChannel` (wire version 6) from both ends: the real agent's relay against the host's
/// channel, and the host against a guest that asks and never reads its answers.
@Suite(.timeLimit(.minutes(2))) struct GuestSyncChannelTests {
    /// A guest that stops reading costs the host a bounded backlog: answers are refused once two
    /// of them wait to leave, instead of queueing or holding their writer.
    @Test func answersToAGuestThatStopsReadingAreRefusedNotQueued() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer {
            host.close()
            close(peer)
        }
        let stream = try await host.open(.syncChannel)
        let answer = Control.syncFailed(ticket: 1, WireError(.io, String(repeating: "x", count: 1000)))
        var accepted = 0
        while stream.sendControlUnlessBacklogged(answer), accepted < 100_000 {
            accepted += 1
            await Task.yield()
        }
        // What the socket's buffer takes, at about 1 KiB an answer, and then two more.
        #expect(accepted < 10_000, "\(accepted) answers queued for a guest that reads nothing")
        #expect(!host.isClosed, "a slow guest is not a broken one")
    }

    /// The agent asks once for many callers, and again, on a new channel, for a caller the old
    /// channel never answered.
    @Test func theAgentAsksOnceForManyCallersAndAgainOnANewChannel() async throws {
        let context = InProcessAgent.makeContext()
        let secret = InProcessAgent.randomSecret()
        let socket = "@hearth-sync-test-\(UUID().uuidString.prefix(12))"
        let listener = GuestSyncCommand.listen(path: socket, relay: context.sync)
        try #require(listener >= 0)
        defer {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
        let first = try await InProcessAgent.connect(context: context, secret: secret, provision: true)
        let channel = try await first.open(.syncChannel)

        let callers = (0..<8).map { _ in Self.caller(socket) }
        try #require(try await eventually { context.sync.waitingCallers == 8 })
        // One ask covers the callers that came before it (the relay asks for the newest ticket).
        var asks: [UInt64] = []
        while asks.isEmpty || context.sync.waitingCallers > 0 && asks.count < 8 {
            guard case .control(.syncWanted(let ticket))? = try await Self.next(channel) else { continue }
            asks.append(ticket)
            try await channel.sendControl(.synced(ticket: ticket, generation: 7))
            // Tickets here are 1 to 8: the answer settles every one up to it, once the agent has read it.
            try #require(try await eventually { context.sync.waitingCallers == 8 - Int(ticket) })
        }
        #expect(asks.count < 8, "\(asks.count) asks for 8 callers")
        for caller in callers { #expect(await caller.value == .generation(7)) }

        // A caller asked for on a channel that then went away is asked for again on the next.
        let late = Self.caller(socket)
        guard case .control(.syncWanted)? = try await Self.next(channel) else {
            Issue.record("no ask for the late caller")
            return
        }
        first.close()
        let second = try await InProcessAgent.connect(context: context, secret: secret, mayProvision: false)
        defer { second.close() }
        let again = try await second.open(.syncChannel)
        guard case .control(.syncWanted(let ticket))? = try await Self.next(again) else {
            Issue.record("the new channel was not asked")
            return
        }
        try await again.sendControl(.syncFailed(ticket: ticket, WireError(.io, "the store refused")))
        #expect(await late.value == .refused("the store refused"))
    }

    /// The stream's next event, or a failure after 20 s rather than a wait as long as the suite's.
    static func next(_ stream: HostStream) async throws -> StreamEvent? {
        try await withDeadline(.seconds(20), what: "the agent's ask") { try await stream.next() }
    }

    static func caller(_ socket: String) -> Task<GuestSyncCommand.Answer, Never> {
        Task.detached {
            await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: GuestSyncCommand.request(socket: socket, timeoutSeconds: 30, flush: false)) }.start()
            }
        }
    }
}
