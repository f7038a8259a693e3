import HearthAgentCore
@testable import HearthProviders
import Testing

@Suite struct SSEParserTests {
    @Test func parsesFramesWithEveryLineEndingAndSkipsComments() throws {
        var parser = SSEParser()
        let text = ": OPENROUTER PROCESSING\r\n\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: one\rdata:two\r\rdata: [DONE]\n\n"
        let events = try parser.feed(Array(text.utf8))
        #expect(events == [SSEEvent(event: "message_start", data: #"{"a":1}"#), SSEEvent(data: "one\ntwo"), SSEEvent(data: "[DONE]")])
        #expect(!parser.hasPartialEvent)
    }

    @Test func aCRLFSplitAcrossReadsIsOneLineEnd() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: x\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n\r".utf8)) == [SSEEvent(data: "x")])
        #expect(try parser.feed(Array("\ndata: y\n\n".utf8)) == [SSEEvent(data: "y")])
    }

    @Test func anEventWithoutDataIsNotDispatched() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("event: ping\n\nid: 3\nretry: 10\n\n".utf8)).isEmpty)
    }

    @Test func aLineOverTheBoundFailsInsteadOfGrowing() throws {
        var parser = SSEParser(maxLine: 16, maxEvent: 64)
        #expect(throws: ProviderFailure.self) { try parser.feed(Array(("data: " + String(repeating: "a", count: 20)).utf8)) }
        var parser2 = SSEParser(maxLine: 16, maxEvent: 20)
        #expect(throws: ProviderFailure.self) { try parser2.feed(Array(String(repeating: "data: aaaaaaaa\n", count: 3).utf8)) }
    }

    /// Seeded fuzz: random bytes biased to the grammar, fed in random pieces. Never crashes, never
    /// returns an event over the bound, and piecewise feeding equals feeding at once.
    @Test func fuzzedStreamsHoldTheBoundsAndDoNotDependOnChunking() {
        var rng = SeededGenerator(seed: 0x5EED_0018)
        let alphabet = Array("data: event:\r\n:{}\"[DONE]xyz ".utf8) + [0x00, 0xFF, 0xC3]
        for _ in 0..<2_000 {
            let count = Int.random(in: 0..<400, using: &rng)
            let bytes = (0..<count).map { _ in Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng) }
            var whole = SSEParser(maxLine: 64, maxEvent: 128)
            let all = try? whole.feed(bytes)
            var pieces = SSEParser(maxLine: 64, maxEvent: 128)
            var collected: [SSEEvent] = []
            var failed = false
            var cursor = 0
            while cursor < bytes.count, !failed {
                let end = min(bytes.count, cursor + Int.random(in: 1...17, using: &rng))
                do { collected += try pieces.feed(bytes[cursor..<end]) } catch { failed = true }
                cursor = end
            }
            if let all {
                #expect(!failed)
                #expect(all == collected)
                #expect(all.allSatisfy { $0.data.utf8.count <= 128 })
            } else {
                #expect(failed)
            }
        }
    }
}

/// SplitMix64: a fixed seed gives the same cases on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
