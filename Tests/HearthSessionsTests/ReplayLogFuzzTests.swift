import HearthSessions
import Testing

/// Random sequences of the log's operations with hostile numbers, checked against a plain model:
/// nothing traps, the bounds always hold, and every read is exactly what the model says.
@Suite struct ReplayLogFuzzTests {
    /// SplitMix64: a seeded generator, so a failure reproduces.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func hostile(_ random: inout SeededGenerator, around value: UInt64) -> UInt64 {
        switch random.next() % 6 {
        case 0: .max
        case 1: .max - random.next() % 4
        case 2: value &+ random.next() % 8
        case 3: value &- random.next() % 8
        case 4: random.next()
        default: value
        }
    }

    @Test(arguments: [1, 2, 3, 4]) func randomOperationsMatchAModelAndHoldTheBounds(seed: UInt64) {
        var random = SeededGenerator(state: seed)
        let maxCount = Int(random.next() % 32)
        let maxBytes = Int(random.next() % 512)
        var log = ReplayLog<[UInt8]>(maxChunks: maxCount, maxBytes: maxBytes)
        // The model keeps everything ever appended.
        var all: [[UInt8]] = []
        var window = AckWindow(at: 0)
        for _ in 0..<20_000 {
            switch random.next() % 5 {
            case 0, 1:
                let size = Int(random.next() % 80)
                let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: all.count), count: size)
                #expect(log.append(chunk) == UInt64(all.count))
                all.append(chunk)
            case 2:
                let cursor = Self.hostile(&random, around: log.start)
                let count = Int(truncatingIfNeeded: Self.hostile(&random, around: 4))
                let weight = Int(truncatingIfNeeded: Self.hostile(&random, around: 100))
                let read = log.read(from: cursor, maxCount: count, maxWeight: weight)
                let first = max(min(cursor, log.end), log.start)
                #expect(read.gap == (cursor < log.start ? log.start - cursor : 0))
                #expect(read.next == first + UInt64(read.elements.count))
                #expect(read.next <= log.end)
                for (offset, element) in read.elements.enumerated() {
                    #expect(element == all[Int(first) + offset])
                }
                if count > 0, first < log.end { #expect(!read.elements.isEmpty, "a read always makes progress") }
            case 3:
                window.deliver(Self.hostile(&random, around: 64), produced: log.produced)
                window.acknowledge(Self.hostile(&random, around: 64))
            default:
                if random.next() % 50 == 0 { log.dropAll() }
            }
            #expect(log.count <= maxCount && log.weight <= maxBytes)
            #expect(log.kept.reduce(0) { $0 + $1.count } == log.weight)
            #expect(log.end == UInt64(all.count) && log.start <= log.end && log.end - log.start == UInt64(log.count))
            #expect(window.acknowledged <= window.delivered && window.delivered <= log.produced)
        }
        #expect(log.produced == UInt64(all.reduce(0) { $0 + $1.count }))
    }
}
