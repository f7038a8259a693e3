@testable import HearthNetwork
import Synchronization
import Testing

/// nft loads commit in the order the networks actor asked for them: a ticket taken synchronously
/// decides the turn, however the waiting tasks are scheduled.
@Suite struct SerialGateTests {
    final class Record: Sendable {
        let order = Mutex<[UInt64]>([])
        let inside = Mutex(0)
        let overlapped = Mutex(false)
    }

    @Test func holdersRunOneAtATimeInTicketOrder() async {
        let gate = SerialGate()
        let tickets = (0..<50).map { _ in gate.ticket() }
        let record = Record()
        let (order, inside, overlapped) = (record, record, record)
        await withTaskGroup(of: Void.self) { group in
            // Started in reverse, so the scheduler alone would run the later tickets first.
            for ticket in tickets.reversed() {
                group.addTask {
                    await gate.run(ticket) {
                        if inside.inside.withLock({ $0 += 1; return $0 }) > 1 { overlapped.overlapped.withLock { $0 = true } }
                        await Task.yield()
                        order.order.withLock { $0.append(ticket) }
                        inside.inside.withLock { $0 -= 1 }
                    }
                }
            }
        }
        #expect(record.order.withLock { $0 } == tickets)
        #expect(!record.overlapped.withLock { $0 })
    }

    @Test func aThrowingHolderStillServesTheNext() async {
        struct Failed: Error {}
        let gate = SerialGate()
        let first = gate.ticket(), second = gate.ticket()
        await #expect(throws: Failed.self) { try await gate.run(first) { throw Failed() } }
        #expect(await gate.run(second) { 42 } == 42)
    }
}
