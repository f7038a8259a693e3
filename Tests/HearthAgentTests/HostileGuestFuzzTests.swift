import Foundation
import HearthCore
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// Random frames from a hostile guest, parsed by the host's real channel: no crash, and every
/// stream's buffers stay within their bounds whatever arrives.
@Suite(.timeLimit(.minutes(3))) struct HostileGuestFuzzTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomFrame(_ rng: inout Generator, streams: [UInt32]) -> Frame {
        let kind = Frame.Kind(rawValue: UInt8(1 + rng.next() % 10))!
        let stream = rng.next() % 8 == 0 ? UInt32(truncatingIfNeeded: rng.next()) : streams[Int(rng.next() % UInt64(streams.count))]
        let payload: [UInt8]
        switch rng.next() % 6 {
        case 0: payload = []
        case 1: payload = [UInt8(rng.next() % 5)] + (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 2: payload = (0..<4).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 3: payload = WireCoding.encode(Control.exited(ExitStatus(code: Int32(truncatingIfNeeded: rng.next()))))
        case 4: payload = WireCoding.encode(Control.result(.written(bytes: rng.next())))
        default: payload = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        return Frame(kind: kind, stream: stream, payload: payload)
    }

    @Test func randomFramesNeverCrashTheHostOrExceedItsBounds() async throws {
        var rng = Generator(state: 0x4845_4152_5448_0614)
        var closedCount = 0
        let connections = 400
        for _ in 0..<connections {
            let (host, peer) = try await InProcessAgent.connectToRawPeer()
            let streams = [try await host.open(.health), try await host.open(.listPorts)]
            // Random frames never target this stream; one byte on it after them says the host has
            // read them all (frames are handled in order), unless it gave up on the peer first.
            let sentinel = try await host.open(.health)
            let frames = (0..<50).map { _ in Self.randomFrame(&rng, streams: streams.map(\.id)) }
            await RawPeer.send(peer, frames + [.data(sentinel.id, .bytes, [1])])
            #expect(try await eventually { host.isClosed || sentinel.buffered.bytes == 1 })
            for stream in streams {
                let b = stream.buffered
                #expect(b.bytes <= WireLimits.initialWindow)
                #expect(b.events <= 2 * WireLimits.maxPendingControls + 2 * WireLimits.initialWindow / WireLimits.maxCoalescedData + 2)
                #expect(b.controlBytes <= WireLimits.maxPendingControlBytes)
            }
            if host.isClosed { closedCount += 1 }
            host.close()
            close(peer)
        }
        #expect(closedCount > 0, "random input must trip the checks")
    }
}
