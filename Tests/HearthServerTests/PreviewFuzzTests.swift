import Foundation
import HearthServerTestKit
import Testing
@testable import HearthServer

/// The preview's parsers of guest bytes, fuzzed with a seeded generator for a fixed number of
/// iterations: no input traps, and what they hold stays bounded.
@Suite struct PreviewFuzzTests {
    static let iterations = 20_000

    // MARK: The guest's WebSocket frames (#9)

    /// A frame header that is plausible more often than random bytes would be.
    static func frame(_ random: inout SplitMix64) -> [UInt8] {
        let opcode = ([0, 1, 2, 8, 9, 10, 3, 15] as [UInt8]).randomElement(using: &random)!
        var bytes: [UInt8] = [(Bool.random(using: &random) ? 0x80 : 0) | opcode]
        let masked: UInt8 = Bool.random(using: &random) ? 0x80 : 0
        switch UInt8.random(in: 0...9, using: &random) {
        case 0: bytes += [masked | 126, UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random)]
        case 1: bytes.append(masked | 127); bytes += (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }
        default: bytes.append(masked | UInt8.random(in: 0...125, using: &random))
        }
        let payload = Int.random(in: 0...300, using: &random)
        bytes += (0..<payload).map { _ in UInt8.random(in: 0...255, using: &random) }
        return bytes
    }

    @Test func theWebSocketDecoderNeitherTrapsNorGrowsOnAnyInput() {
        var random = SplitMix64(seed: 0x5EED_0009)
        var decoder = WebSocketFrameDecoder()
        for _ in 0..<Self.iterations {
            var chunk = Self.frame(&random)
            if UInt8.random(in: 0...3, using: &random) == 0 { chunk = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } }
            let cut = Int.random(in: 0...chunk.count, using: &random)
            for piece in [Array(chunk[..<cut]), Array(chunk[cut...])] {
                decoder.append(piece)
                do {
                    while let (_, payload) = try decoder.next() { #expect(payload.count <= WebSocketFrameDecoder.maxMessage) }
                } catch {
                    decoder = WebSocketFrameDecoder()
                }
                #expect(decoder.pending <= WebSocketFrameDecoder.maxMessage + 14 + chunk.count)
                #expect(decoder.heldFragments <= WebSocketFrameDecoder.maxMessage)
            }
        }
    }

    @Test func aMessageOverTheCapIsRefusedBeforeItIsHeld() throws {
        var decoder = WebSocketFrameDecoder()
        // Only the header of a 1 MiB + 1 frame has arrived: refused now, not after buffering it.
        let over = WebSocketFrameDecoder.maxMessage + 1
        decoder.append([0x82, 127] + (0..<8).reversed().map { UInt8((over >> ($0 * 8)) & 0xFF) })
        #expect(throws: WebSocketFrameDecoder.TooLarge.self) { try decoder.next() }

        var huge = WebSocketFrameDecoder()
        huge.append([0x82, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: WebSocketFrameDecoder.TooLarge.self) { try huge.next() }

        // Fragments add up: two of 600 KiB are one message over 1 MiB.
        var fragmented = WebSocketFrameDecoder()
        let piece = 600 << 10
        let header: [UInt8] = [127] + (0..<8).reversed().map { UInt8((piece >> ($0 * 8)) & 0xFF) }
        fragmented.append([0x02] + header + [UInt8](repeating: 1, count: piece))
        #expect(try fragmented.next() == nil)
        fragmented.append([0x00] + header)
        #expect(throws: WebSocketFrameDecoder.TooLarge.self) { try fragmented.next() }
    }

    @Test func decodingIsLinearInTheBytesReceived() throws {
        // 4 MiB of 16-byte frames in one append: removing each frame from the front of the
        // buffer (the old decoder) moves ~550 GB (about a minute); skipping by index moves nothing.
        let frame: [UInt8] = [0x82, 14] + [UInt8](repeating: 7, count: 14)
        let count = (4 << 20) / frame.count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * frame.count)
        for _ in 0..<count { bytes += frame }
        var decoder = WebSocketFrameDecoder()
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            decoder.append(bytes)
            var decoded = 0
            while try decoder.next() != nil { decoded += 1 }
            #expect(decoded == count)
        }
        #expect(elapsed < .seconds(60), "decoding 4 MiB took \(elapsed)")
        #expect(decoder.pending == 0)
        #expect(decoder.bytesMoved == 0)
    }

    @Test func bytesArrivingInPiecesAreMovedAtMostOnceOverall() throws {
        // Frames split across appends at every offset: compaction moves each byte at most once
        // in total, where removing frames from the front moved the whole buffer per frame.
        var random = SplitMix64(seed: 0x5EED_0010)
        var decoder = WebSocketFrameDecoder()
        let frame: [UInt8] = [0x82, 100] + [UInt8](repeating: 1, count: 100)
        var stream: [UInt8] = []
        for _ in 0..<20_000 { stream += frame }
        var offset = 0, decoded = 0
        while offset < stream.count {
            let piece = Int.random(in: 1...700, using: &random)
            decoder.append(Array(stream[offset..<min(offset + piece, stream.count)]))
            offset += piece
            while try decoder.next() != nil { decoded += 1 }
        }
        #expect(decoded == 20_000)
        #expect(decoder.bytesMoved <= stream.count, "moved \(decoder.bytesMoved) of \(stream.count) bytes")
    }

    @Test func aMessageSplitIntoManyPiecesIsDecodedOnce() throws {
        var decoder = WebSocketFrameDecoder()
        let payload = [UInt8](repeating: 9, count: WebSocketFrameDecoder.maxMessage)
        let size = payload.count
        let bytes: [UInt8] = [0x82, 127] + (0..<8).reversed().map { UInt8((size >> ($0 * 8)) & 0xFF) } + payload
        var got: [UInt8]?
        for start in stride(from: 0, to: bytes.count, by: 1000) {
            decoder.append(Array(bytes[start..<min(start + 1000, bytes.count)]))
            if let (_, message) = try decoder.next() { got = message }
        }
        #expect(got == payload)
    }

    // MARK: The guest's HTTP answer head (#4, #7)

    static let pieces = ["HTTP/1.0 ", "HTTP/1.1 200 OK", "200", "204", "304", "100", " ", "\r\n", "\r", "\n", ":", ",", ";", "=",
                         "Content-Length", "content-length: ", "Transfer-Encoding", "chunked", "Set-Cookie: ", "hearth_session",
                         "__Host-", "Path=/", "Domain=x", "Connection", "Upgrade", "-1", "99999999999999999999", "5", "0", "\u{0}", "é", "\u{7F}"]

    @Test func theResponseHeadParserNeitherTrapsNorLetsFramingThrough() {
        var random = SplitMix64(seed: 0x5EED_0004)
        for _ in 0..<Self.iterations {
            var head = Bool.random(using: &random) ? "HTTP/1.1 200 OK\r\n" : ""
            for _ in 0..<Int.random(in: 0...24, using: &random) {
                if UInt8.random(in: 0...5, using: &random) == 0 {
                    head += String(decoding: (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) },
                                   as: UTF8.self)
                } else {
                    head += Self.pieces.randomElement(using: &random)!
                }
            }
            let isHead = UInt8.random(in: 0...7, using: &random) == 0
            guard let parsed = try? PreviewResponseHead.parse(head, cookiePath: "/w/a/p/80/", isHead: isHead) else { continue }
            #expect((200...599).contains(parsed.status.code))
            if case .length(let length) = parsed.framing { #expect(length >= 0) }
            if isHead { #expect(parsed.framing == .none) }
            for field in parsed.fields {
                let name = field.name.canonicalName
                #expect(!PreviewRoutes.hopByHop.contains(name), "\(name) passed through")
                if name == "set-cookie" { Self.expectConfined(field.value) }
            }
        }
    }

    @Test func theCookieRewriterNeitherTrapsNorLetsHearthsNamesThrough() {
        var random = SplitMix64(seed: 0x5EED_0007)
        for _ in 0..<Self.iterations {
            var value = ""
            for _ in 0..<Int.random(in: 0...10, using: &random) { value += Self.pieces.randomElement(using: &random)! }
            guard let kept = PreviewCookies.rewrite(value, path: "/w/a/p/80/") else { continue }
            Self.expectConfined(kept)
        }
    }

    /// A rewritten cookie, read as a browser reads it: a name that is none of Hearth's, no Domain,
    /// and one Path, the preview's.
    static func expectConfined(_ cookie: String) {
        let parts = cookie.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let name = (parts.first ?? "").prefix { $0 != "=" }.trimmingCharacters(in: .whitespaces).lowercased()
        #expect(!name.isEmpty && !name.contains("hearth_session") && !name.hasPrefix("__host-") && !name.hasPrefix("__secure-"), "\(cookie)")
        let keys = parts.dropFirst().map { ($0.prefix { $0 != "=" }).trimmingCharacters(in: .whitespaces).lowercased() }
        #expect(!keys.contains("domain"), "\(cookie)")
        #expect(keys.filter { $0 == "path" }.count == 1 && parts.last == "Path=/w/a/p/80/", "\(cookie)")
        #expect(!cookie.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(cookie)")
    }
}
