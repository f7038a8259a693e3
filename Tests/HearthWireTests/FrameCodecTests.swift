import HearthWire
import Testing

@Suite struct FrameCodecTests {
    @Test func roundTripsEveryKind() throws {
        let frames: [Frame] = [
            .hello(Hello(agent: "a", session: "s")), .open(3, .exec(ExecRequest(argv: ["ls"]))), .data(3, .stdout, [1, 2, 3]),
            .eof(3, .stdin), .control(3, .exited(ExitStatus(code: 7))), .window(3, 4096), .reset(3, WireError(.closed, "x")),
            Frame(kind: .quiesce, stream: 0), Frame(kind: .quiesced, stream: 0),
        ]
        var decoder = FrameDecoder()
        decoder.append(frames.flatMap { $0.encoded() })
        var decoded: [Frame] = []
        while let frame = try decoder.next() { decoded.append(frame) }
        #expect(decoded == frames)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func decodesWhenSplitAtEveryByte() throws {
        let frame = Frame.data(5, .stderr, Array(0..<200).map { UInt8($0) })
        let bytes = frame.encoded() + Frame.window(5, 9).encoded()
        for split in 0...bytes.count {
            var decoder = FrameDecoder()
            decoder.append(bytes[..<split])
            var got: [Frame] = []
            while let f = try decoder.next() { got.append(f) }
            decoder.append(bytes[split...])
            while let f = try decoder.next() { got.append(f) }
            #expect(got == [frame, .window(5, 9)])
        }
    }

    @Test func rejectsOversizedFrameBeforeBufferingIt() {
        var decoder = FrameDecoder(maxPayload: 1024)
        decoder.append([Frame.Kind.data.rawValue, 0, 0, 0, 1, 0, 0, 4, 1])  // claims 1025 bytes
        #expect(throws: WireError.self) { try decoder.next() }
    }

    @Test func rejectsUnknownKind() {
        var decoder = FrameDecoder()
        decoder.append([0xEE, 0, 0, 0, 1, 0, 0, 0, 0])
        #expect(throws: WireError.self) { try decoder.next() }
    }

    @Test func typedAccessorsRejectMalformedPayloads() {
        #expect(throws: WireError.self) { try Frame(kind: .window, stream: 1, payload: [1, 2]).windowIncrement() }
        #expect(throws: WireError.self) { try Frame(kind: .data, stream: 1, payload: []).channel() }
        #expect(throws: WireError.self) { try Frame(kind: .data, stream: 1, payload: [99]).channel() }
        #expect(throws: WireError.self) { try WireCoding.decode(Control.self, from: Array("{\"nope\":1}".utf8)) }
    }

    /// The guest is untrusted: arbitrary and mutated input must end in a frame or a `WireError`,
    /// never a crash, and never buffer more than one frame's worth.
    @Test func fuzzedInputNeverCrashes() {
        var rng = SplitMix64(seed: 0x4845_4152_5448)
        let valid = [Frame.open(1, .listPorts), .data(1, .stdout, [9, 9]), .control(1, .started(pid: 3)), .window(1, 7)]
            .flatMap { $0.encoded() }
        var frames = 0
        var errors = 0
        for iteration in 0..<20_000 {
            var input: [UInt8]
            if iteration % 2 == 0 {
                input = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                input = valid
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            var decoder = FrameDecoder(maxPayload: 4096)
            decoder.append(input)
            do {
                while let frame = try decoder.next() {
                    frames += 1
                    _ = try? frame.channel()
                    _ = try? frame.windowIncrement()
                    if frame.kind == .control { _ = try? WireCoding.decode(Control.self, from: frame.payload) }
                    if frame.kind == .open { _ = try? WireCoding.decode(Request.self, from: frame.payload) }
                }
            } catch {
                errors += 1
            }
            #expect(decoder.bufferedByteCount <= input.count)
        }
        #expect(frames > 0)
        #expect(errors > 0)
    }
}

/// A small deterministic generator, so a fuzz failure reproduces.
struct SplitMix64: RandomNumberGenerator {
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
