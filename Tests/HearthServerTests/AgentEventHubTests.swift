import Foundation
import GRDB
import HearthControlPlane
import HearthServerTestKit
import Logging
import Synchronization
import Testing

/// A clock tests move by hand.
final class ManualAgentClock: AgentClock {
    let current: Mutex<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(start) }
    func now() -> Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// The event log of agent sessions: sequence numbers, batched deltas, resume with no loss or
/// duplicate at the seam between stored and live events, slow readers dropped, idempotency.
@Suite(.timeLimit(.minutes(2))) struct AgentEventHubTests {
    static func hub(queueLimit: Int = 1024, flushBytes: Int = 512, clock: ManualAgentClock = ManualAgentClock()) throws -> AgentEventHub {
        let store = try AgentSessionStore(db: try DatabaseQueue())
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return AgentEventHub(store: store, clock: clock, queueLimit: queueLimit, flushBytes: flushBytes, flushInterval: 3600, logger: logger)
    }

    static func fields(_ event: AgentEvent) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any] ?? [:]
    }

    @Test func sequenceNumbersAreAssignedWhenStoredFromOneWithNoGaps() throws {
        let hub = try Self.hub()
        for i in 0..<5 { try hub.append("s1", .status, ["n": .int(i)]) }
        try hub.append("s2", .status, [:])
        let events = try hub.store.events("s1", after: 0)
        #expect(events.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(try hub.store.events("s2", after: 0).map(\.seq) == [1])
    }

    @Test func tokenDeltasAreBatchedAndAReaderMidTurnSeesThePartialAnswer() async throws {
        let hub = try Self.hub(flushBytes: 512)
        let token = "0123456789"
        try hub.appendDelta("s", .message, token)
        // The first token of the answer is stored at once (time to first token)…
        let first = try hub.store.events("s", after: 0)
        #expect(first.count == 1 && Self.fields(first[0])["text"] as? String == token && Self.fields(first[0])["partial"] as? Bool == true)
        for _ in 1..<60 { try hub.appendDelta("s", .message, token) }
        // …and the next 590 bytes of deltas became one stored event, not 59.
        let midTurn = try hub.store.events("s", after: 0)
        #expect(midTurn.count == 2)
        let partial = Self.fields(try #require(midTurn.last))
        #expect(partial["partial"] as? Bool == true)
        #expect((partial["text"] as? String)?.utf8.count ?? 0 >= 512)
        // A reader that joins now gets them from the store.
        var reader = hub.subscribe("s", after: 0).makeAsyncIterator()
        #expect(try await reader.next()?.seq == 1)
        #expect(try await reader.next()?.seq == 2)
        for _ in 0..<40 { try hub.appendDelta("s", .message, token) }
        try hub.endDelta("s")
        let all = try hub.store.events("s", after: 0)
        #expect(all.count < 5)
        #expect(all.map { Self.fields($0)["text"] as? String ?? "" }.joined() == String(repeating: token, count: 100))
        #expect(Self.fields(try #require(all.last))["partial"] as? Bool == false)
        // The live reader got every later event once, in order.
        var seen: [Int64] = []
        while seen.last != all.last?.seq, let event = try await reader.next() { seen.append(event.seq) }
        #expect(seen == Array(3...(all.last?.seq ?? 0)))
    }

    @Test func aDeltaOfAnotherKindClosesTheOpenBlockFirst() throws {
        let hub = try Self.hub()
        try hub.appendDelta("s", .thinking, "hmm")
        try hub.appendDelta("s", .message, "answer")
        try hub.append("s", .toolCall, ["id": .string("c1")])
        let events = try hub.store.events("s", after: 0)
        // Each block's first delta is stored at once; the thinking block is then closed (an empty
        // last part, `partial: false`) before the answer's block opens.
        #expect(events.map(\.type) == [.thinking, .thinking, .message, .toolCall])
        #expect(Self.fields(events[0])["text"] as? String == "hmm" && Self.fields(events[0])["partial"] as? Bool == true)
        #expect(Self.fields(events[1])["text"] as? String == "" && Self.fields(events[1])["partial"] as? Bool == false)
        #expect(Self.fields(events[2])["text"] as? String == "answer")
    }

    /// Readers subscribe at random cursors while a writer appends: each gets exactly the events
    /// after its cursor, once, in order, across the seam between replay and the live tail.
    @Test func resumeFromAnyCursorWhileWritingLosesAndRepeatsNothing() async throws {
        let hub = try Self.hub(queueLimit: 100_000)
        let total: Int64 = 2000
        var generator = SplitMix64(seed: 18)
        let cursors = (0..<12).map { _ in Int64(generator.next() % UInt64(total)) }
        try await withThrowingTaskGroup(of: [Int64].self) { group in
            group.addTask {
                for i in 0..<total {
                    try hub.append("s", .status, ["i": .int(Int(i))])
                    if i % 100 == 0 { await Task.yield() }
                }
                return []
            }
            for cursor in cursors {
                group.addTask {
                    // Wait until the writer has passed the cursor, so the reader starts mid-stream.
                    while try hub.store.lastSeq("s") < cursor { await Task.yield() }
                    var seen: [Int64] = [cursor]
                    for try await event in hub.subscribe("s", after: cursor) {
                        seen.append(event.seq)
                        if event.seq == total { break }
                    }
                    return seen
                }
            }
            for try await seen in group where !seen.isEmpty {
                let cursor = seen[0]
                #expect(Array(seen.dropFirst()) == Array((cursor + 1)...total), "reader from \(cursor)")
            }
        }
    }

    @Test func aSlowReaderIsDroppedAndToldNeverSkipped() async throws {
        let hub = try Self.hub(queueLimit: 4)
        let dropped = Atomic<Int>(0)
        let subscription = hub.subscribe("s", after: 0) { dropped.add(1, ordering: .relaxed) }
        var reader = subscription.makeAsyncIterator()
        // The reader first reads the (empty) store, then waits on the live queue.
        for i in 0..<10 { try hub.append("s", .status, ["i": .int(i)]) }
        #expect(dropped.load(ordering: .relaxed) == 1)
        #expect(hub.readerCount("s") == 0)
        var seen: [Int64] = []
        let error = await #expect(throws: AgentReaderTooSlow.self) {
            while let event = try await reader.next() { seen.append(event.seq) }
        }
        _ = error
        // What it got before the drop is a gapless prefix; it resumes from its last id.
        #expect(seen == Array(1...Int64(seen.count)))
        var resumed: [Int64] = []
        if seen.last != 10 {
            for try await event in hub.subscribe("s", after: seen.last ?? 0) {
                resumed.append(event.seq)
                if event.seq == 10 { break }
            }
        }
        #expect(seen + resumed == Array(1...10))
    }

    @Test func aRepeatedIdempotencyKeyStoresTheMessageOnce() throws {
        let hub = try Self.hub()
        let first = try hub.appendMessage("s", ["role": .string("user"), "text": .string("hi")], idempotencyKey: "k1")
        let again = try hub.appendMessage("s", ["role": .string("user"), "text": .string("hi")], idempotencyKey: "k1")
        let other = try hub.appendMessage("s", ["role": .string("user"), "text": .string("hi")], idempotencyKey: "k2")
        #expect(!first.duplicate && again.duplicate && !other.duplicate)
        #expect(again.event.seq == first.event.seq)
        #expect(try hub.store.events("s", after: 0).count == 2)
    }

    @Test func anOversizedEventIsStoredTruncated() throws {
        let hub = try Self.hub()
        let event = try hub.append("s", .toolResult, ["content": .string(String(repeating: "x", count: AgentEvent.maxDataBytes + 1))])
        #expect(event.data.utf8.count < 100)
        #expect(Self.fields(event)["truncated"] as? Bool == true)
    }
}

