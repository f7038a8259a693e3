import Foundation
import HearthAPI
import HearthServerTestKit
import Testing

/// `ExecStream.Parser` reads the exec WebSocket's hostile bytes: it must be linear, bounded and
/// never trap, whatever arrives.
@Suite(.timeLimit(.minutes(2))) struct ExecStreamParserTests {
    @Test func framesRoundTripAcrossArbitrarySplits() throws {
        var random = SplitMix64(state: 42)
        for _ in 0..<2_000 {
            let frames = (0..<Int.random(in: 1...8, using: &random)).map { _ in
                (ExecStream.Kind(rawValue: UInt8.random(in: 1...9, using: &random))!,
                 (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            }
            let bytes = frames.flatMap { ExecStream.frame($0.0, $0.1) }
            var parser = ExecStream.Parser()
            var parsed: [(ExecStream.Kind, [UInt8])] = []
            var offset = 0
            while offset < bytes.count {
                let piece = Int.random(in: 1...64, using: &random)
                parser.append(bytes[offset..<min(bytes.count, offset + piece)])
                offset += piece
                while let frame = try parser.next() { parsed.append(frame) }
            }
            #expect(parsed.map(\.0) == frames.map(\.0))
            #expect(parsed.map(\.1) == frames.map(\.1))
            #expect(parser.bufferedBytes == 0)
        }
    }

    /// Random bytes, truncated frames and huge declared lengths: no trap, a clear `malformed`, and
    /// the parser never holds more than one bounded frame plus the last append.
    @Test func fuzzArbitraryBytesNeverTrapAndStayBounded() {
        var random = SplitMix64(state: 0x5EED)
        let maxPayload = 4096
        for _ in 0..<20_000 {
            var parser = ExecStream.Parser(maxPayload: maxPayload)
            var input: [UInt8] = []
            switch Int.random(in: 0...3, using: &random) {
            case 0: // noise
                input = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 1: // a valid frame, truncated
                let frame = ExecStream.frame(.stdin, [UInt8](repeating: 7, count: Int.random(in: 0...100, using: &random)))
                input = Array(frame.prefix(Int.random(in: 0...frame.count, using: &random)))
            case 2: // a huge declared length
                let length = UInt32.random(in: UInt32(maxPayload + 1)...UInt32.max, using: &random)
                input = [6, UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
            default: // valid frames with a corrupted byte
                input = ExecStream.frame(.stdin, [1, 2, 3]) + ExecStream.frame(.signal, Array("2".utf8))
                input[Int.random(in: 0..<input.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            var offset = 0
            loop: while offset < input.count {
                let piece = Int.random(in: 1...16, using: &random)
                let appended = min(piece, input.count - offset)
                parser.append(input[offset..<(offset + appended)])
                offset += appended
                do {
                    while let (_, payload) = try parser.next() { #expect(payload.count <= maxPayload) }
                } catch {
                    #expect(error as? ExecStream.ExecStreamError == .malformed)
                    break loop
                }
                #expect(parser.bufferedBytes <= ExecStream.headerSize + maxPayload + 16)
            }
        }
    }

    @Test func aHugeDeclaredLengthIsRefusedAtItsHeader() {
        var parser = ExecStream.Parser(maxPayload: 1 << 20)
        parser.append([6, 0xff, 0xff, 0xff, 0xff])
        #expect(throws: ExecStream.ExecStreamError.malformed) { try parser.next() }
        var unknown = ExecStream.Parser()
        unknown.append([0xee, 0, 0, 0, 1])
        #expect(throws: ExecStream.ExecStreamError.malformed) { try unknown.next() }
    }

    /// Issue 14 #9: `removeFirst` per frame made a message of small frames quadratic (2.7 s of CPU
    /// per MiB). 4 MiB of empty frames would take about a minute that way; linear, well under 10 s.
    @Test func manySmallFramesParseInLinearTime() throws {
        let frames = (4 << 20) / ExecStream.headerSize
        let message = [UInt8](repeating: 0, count: frames * ExecStream.headerSize).enumerated().map { index, _ in
            index % ExecStream.headerSize == 0 ? ExecStream.Kind.stdin.rawValue : 0
        }
        let clock = ContinuousClock()
        var count = 0
        let elapsed = try clock.measure {
            var parser = ExecStream.Parser()
            parser.append(message)
            while try parser.next() != nil { count += 1 }
        }
        #expect(count == frames)
        #expect(elapsed < .seconds(10), "parsing \(frames) frames took \(elapsed)")
    }
}
