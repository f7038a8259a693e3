import HearthSessions
import Synchronization
import Testing

/// Readers that wait on a shared log: concurrent readers each see every element in order, a slow
/// reader costs nothing but a gap, and a cancelled reader stops waiting.
@Suite(.timeLimit(.minutes(1))) struct ReplayChannelTests {
    static func eventually(_ seconds: Double = 10, _ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return await condition()
    }

    static func readAll(_ channel: ReplayChannel<Int>, from cursor: UInt64 = 0) async -> (values: [Int], gaps: UInt64) {
        var cursor = cursor
        var values: [Int] = []
        var gaps: UInt64 = 0
        while let read = await channel.next(from: cursor, maxCount: 7) {
            values += read.elements
            gaps += read.gap
            cursor = read.next
        }
        return (values, gaps)
    }

    @Test func concurrentReadersEachSeeEveryElementInOrder() async throws {
        let channel = ReplayChannel(ReplayLog<Int>(limits: .init(maxCount: 10_000, maxWeight: 10_000)) { _ in 1 })
        try await withThrowingTaskGroup(of: (values: [Int], gaps: UInt64).self) { group in
            for _ in 0..<8 { group.addTask { await Self.readAll(channel) } }
            #expect(try await Self.eventually { await channel.waitingReaders == 8 })
            for value in 0..<2_000 { await channel.append(value) }
            await channel.close()
            for try await result in group {
                #expect(result.values == Array(0..<2_000))
                #expect(result.gaps == 0)
            }
        }
    }

    @Test func aSlowReaderGetsAGapAndTheLogStaysWithinItsBound() async throws {
        let channel = ReplayChannel(ReplayLog<[UInt8]>(maxChunks: 64, maxBytes: 4096))
        // The reader takes one element and then stops reading while a lot is written.
        await channel.append([0])
        let first = await channel.next(from: 0)
        #expect(first?.elements == [[0]])
        for index in 0..<50_000 {
            await channel.append([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 100))
            let log = await channel.snapshot
            if log.weight > 4096 || log.count > 64 {
                Issue.record("the log grew to \(log.weight) bytes, \(log.count) chunks")
                break
            }
        }
        let late = await channel.next(from: first?.next ?? 0)
        #expect((late?.gap ?? 0) > 0, "a reader that fell behind is told what it missed")
        let log = await channel.snapshot
        #expect(late.map { $0.next } ?? 0 > log.start)
        #expect(log.produced == 1 + 50_000 * 100)
    }

    @Test func aCancelledReaderStopsWaiting() async throws {
        let channel = ReplayChannel(ReplayLog<Int>(limits: .init(maxCount: 4, maxWeight: 4)) { _ in 1 })
        let reader = Task { await channel.next(from: 0) }
        #expect(try await Self.eventually { await channel.waitingReaders == 1 })
        reader.cancel()
        #expect(await reader.value == nil)
        #expect(await channel.waitingReaders == 0)
        // An already-cancelled reader does not wait at all.
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await channel.next(from: 0)
        }
        #expect(await cancelled.value == nil)
    }

    @Test func closingWakesReadersAfterTheyDrain() async throws {
        let channel = ReplayChannel(ReplayLog<Int>(limits: .init(maxCount: 4, maxWeight: 4)) { _ in 1 })
        await channel.append(1)
        await channel.close()
        #expect(await channel.append(2) == nil, "nothing is appended once closed")
        let read = await channel.next(from: 0)
        #expect(read?.elements == [1])
        #expect(await channel.next(from: read?.next ?? 0) == nil)
    }
}
