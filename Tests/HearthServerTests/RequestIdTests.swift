@testable import HearthServer
import HearthServerTestKit
import Testing

/// The inbound `X-Request-Id` rule: kept only from a trusted proxy and only when sane.
@Suite struct RequestIdTests {
    @Test func anInboundIdIsKeptOnlyFromATrustedProxyAndOnlyWhenSane() {
        #expect(RequestId.choose(inbound: "Root=1-67891233-abcdef012345678912345678", peerIsTrusted: true) == "Root=1-67891233-abcdef012345678912345678")
        #expect(RequestId.choose(inbound: "6f1c2a9e-0b3d-4c5e-8f70-1a2b3c4d5e6f", peerIsTrusted: false).hasPrefix("req_"))
        for insane in ["", "has space", "line\nbreak", "quote\"", String(repeating: "a", count: 129), "ünïcode", "a\u{0}b", "{json}"] {
            #expect(RequestId.choose(inbound: insane, peerIsTrusted: true).hasPrefix("req_"), "kept \(insane.debugDescription)")
        }
        #expect(RequestId.choose(inbound: String(repeating: "a", count: 128), peerIsTrusted: true).count == 128)
        #expect(RequestId.generate() != RequestId.generate())
        #expect(RequestId.generate().wholeMatch(of: /req_[0-9a-f]{32}/) != nil)
    }

    /// Fuzz: random and mutated header values never crash the check, and whatever is kept is
    /// bounded and made only of the allowed characters.
    @Test func fuzzedInboundIdsNeverCrashAndWhatIsKeptIsBounded() {
        var generator = SplitMix64(seed: 0x0b5e_7ab1e)
        let seeds = ["req_0123", "Root=1-abc", "6f1c2a9e-0b3d", String(repeating: "z", count: 128)]
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:=".utf8)
        for iteration in 0..<20_000 {
            var bytes: [UInt8]
            if iteration % 2 == 0 {
                bytes = (0..<Int(generator.next() % 300)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            } else {
                bytes = Array(seeds[Int(generator.next() % UInt64(seeds.count))].utf8)
                for _ in 0..<Int(generator.next() % 4) where !bytes.isEmpty {
                    bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
                if generator.next() % 3 == 0 { bytes += Array(repeating: UInt8(ascii: "a"), count: Int(generator.next() % 200)) }
            }
            let inbound = String(decoding: bytes, as: UTF8.self)
            let chosen = RequestId.choose(inbound: inbound, peerIsTrusted: true)
            #expect(chosen.utf8.count <= RequestId.maxLength && !chosen.isEmpty)
            #expect(chosen.utf8.allSatisfy { allowed.contains($0) })
            if chosen == inbound { #expect(RequestId.isSane(inbound[...])) }
        }
    }
}

/// A previewed guest app chooses its own status (100 to 599); the metrics label keeps only the
/// codes Hearth itself answers and counts any other by class, so a guest cannot mint series.
@Suite struct MetricsStatusLabelTests {
    @Test func aGuestsStatusesCollapseToABoundedSetOfLabels() {
        #expect(HTTPMetrics.statusLabel(404) == "404")
        #expect(HTTPMetrics.statusLabel(429) == "429")
        #expect(HTTPMetrics.statusLabel(299) == "2xx")
        #expect(HTTPMetrics.statusLabel(599) == "5xx")
        #expect(HTTPMetrics.statusLabel(0) == "other")
        #expect(HTTPMetrics.statusLabel(Int.max) == "other")
        let labels = Set((Int(-5)...1_000).map(HTTPMetrics.statusLabel))
        #expect(labels.count <= HTTPMetrics.ownStatuses.count + 6)
    }
}
