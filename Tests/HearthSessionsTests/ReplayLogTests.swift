import HearthSessions
import Testing

/// The log's cursors, gaps and bounds.
@Suite struct ReplayLogTests {
    static func chunks(_ maxChunks: Int, _ maxBytes: Int) -> ReplayLog<[UInt8]> {
        ReplayLog(maxChunks: maxChunks, maxBytes: maxBytes)
    }

    @Test func aReaderReplaysFromItsCursorAndContinuesFromNext() {
        var log = ReplayLog<Int>(limits: .init(maxCount: 10, maxWeight: 100)) { _ in 1 }
        for value in 0..<5 { #expect(log.append(value) == UInt64(value)) }
        let all = log.read(from: 0)
        #expect(all.gap == 0 && all.elements == [0, 1, 2, 3, 4] && all.next == 5)
        let tail = log.read(from: 3)
        #expect(tail.elements == [3, 4] && tail.next == 5)
        log.append(5)
        let fresh = log.read(from: tail.next)
        #expect(fresh.elements == [5] && fresh.next == 6 && fresh.gap == 0)
        let nothing = log.read(from: 6)
        #expect(nothing.elements.isEmpty && nothing.next == 6)
    }

    @Test func theOldestAreDroppedPastTheCountAndAReaderBehindSeesTheGap() {
        var log = ReplayLog<Int>(limits: .init(maxCount: 3, maxWeight: 100)) { _ in 1 }
        for value in 0..<10 { log.append(value) }
        #expect(log.count == 3 && log.start == 7 && log.end == 10)
        let read = log.read(from: 2)
        #expect(read.gap == 5, "missed 2...6")
        #expect(read.elements == [7, 8, 9] && read.next == 10)
    }

    @Test func theOldestAreDroppedPastTheWeight() {
        var log = Self.chunks(100, 10)
        log.append([1, 2, 3, 4])
        log.append([5, 6, 7, 8])
        log.append([9, 10, 11])
        #expect(log.weight == 7 && log.count == 2 && log.start == 1)
        #expect(log.produced == 11)
        #expect(log.read(from: 0).gap == 1)
    }

    @Test func anElementHeavierThanTheBoundIsNotKeptAndReadersSeeAGap() {
        var log = Self.chunks(100, 8)
        log.append([1])
        log.append([UInt8](repeating: 0, count: 9))
        #expect(log.isEmpty && log.weight == 0 && log.start == 2 && log.end == 2)
        #expect(log.produced == 10)
        let read = log.read(from: 0)
        #expect(read.gap == 2 && read.elements.isEmpty && read.next == 2)
        log.append([2])
        #expect(log.read(from: 2).elements == [[2]])
    }

    @Test func hostileCursorsAndLimitsNeitherTrapNorReadPastTheEnd() {
        var log = Self.chunks(4, 64)
        for byte: UInt8 in 0..<6 { log.append([byte]) }
        for cursor: UInt64 in [.max, .max - 1, 1 << 63, 7, 6] {
            let read = log.read(from: cursor)
            #expect(read.elements.isEmpty && read.gap == 0 && read.next == 6)
        }
        for (count, weight) in [(Int.min, Int.min), (0, 0), (-1, Int.max), (Int.max, Int.min), (1, -5)] {
            let read = log.read(from: 0, maxCount: count, maxWeight: weight)
            #expect(read.elements.count <= max(0, min(count, 1)))
            #expect(read.gap == 2)
        }
    }

    @Test func aReadIsCappedByCountAndWeightButAlwaysMakesProgress() {
        var log = Self.chunks(100, 1000)
        for size in [10, 20, 30, 40] { log.append([UInt8](repeating: 1, count: size)) }
        #expect(log.read(from: 0, maxCount: 2).elements.map(\.count) == [10, 20])
        #expect(log.read(from: 0, maxWeight: 35).elements.map(\.count) == [10, 20])
        // The first element is returned even if it alone is heavier than the read's cap.
        #expect(log.read(from: 3, maxWeight: 1).elements.map(\.count) == [40])
    }

    @Test func hugeLimitsAndWeightsDoNotOverflow() {
        var log = ReplayLog<Int>(limits: .init(maxCount: .max, maxWeight: .max)) { $0 }
        log.append(Int.max / 2)
        log.append(Int.max / 2)
        log.append(Int.max)
        log.append(-5)
        #expect(log.weight <= Int.max / 2)
        #expect(log.produced >= UInt64(Int.max))
        var saturating = ReplayLog<UInt64>(limits: .init(maxCount: 1, maxWeight: 1)) { _ in .max }
        for value: UInt64 in 0..<4 { saturating.append(value) }
        #expect(saturating.produced == .max, "four weights of Int.max saturate")
    }

    @Test func droppingEverythingKeepsTheCursorsGoing() {
        var log = Self.chunks(8, 64)
        log.append([1])
        log.append([2])
        log.dropAll()
        #expect(log.isEmpty && log.start == 2 && log.end == 2)
        #expect(log.read(from: 0).gap == 2)
        log.append([3])
        #expect(log.read(from: 2).elements == [[3]])
    }

    @Test func theKeptStorageStaysBoundedOverManyAppends() {
        var log = Self.chunks(16, 1 << 20)
        for index in 0..<100_000 { log.append([UInt8(truncatingIfNeeded: index)]) }
        #expect(log.count == 16 && log.kept.count == 16)
        #expect(log.kept.last == [UInt8(truncatingIfNeeded: 99_999)])
        #expect(log.read(from: log.start).elements.count == 16)
    }
}

/// A reader's acknowledgement window against the log's byte offsets.
@Suite struct AckWindowTests {
    @Test func anAcknowledgementCannotPassWhatWasDelivered() {
        var window = AckWindow(at: 100)
        let moved = window.acknowledge(50)
        #expect(!moved, "nothing delivered yet")
        #expect(window.acknowledged == 100)
        window.deliver(30, produced: 200)
        window.acknowledge(.max)
        #expect(window.acknowledged == 130 && window.delivered == 130)
        window.deliver(.max, produced: 200)
        #expect(window.delivered == 200)
    }

    @Test func hostileNumbersSaturate() {
        var window = AckWindow(at: .max - 3)
        window.deliver(.max, produced: .max)
        window.acknowledge(.max)
        #expect(window.acknowledged == .max && window.delivered == .max)
        #expect(AckWindow.advance(5, by: .max, limit: 3) == 5, "never moves backwards")
        #expect(!window.holds(0, produced: 0), "produced below acknowledged holds nothing")
        #expect(window.queued(produced: 0) == 0)
    }

    @Test func aReaderHoldsTheWindowPastItsSize() {
        var window = AckWindow(at: 0)
        #expect(!window.holds(10, produced: 10))
        #expect(window.holds(10, produced: 11))
        window.deliver(11, produced: 11)
        window.acknowledge(1)
        #expect(!window.holds(10, produced: 11))
        #expect(window.queued(produced: 15) == 4)
    }
}
