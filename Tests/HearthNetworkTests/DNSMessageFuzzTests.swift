import HearthNetwork
import HearthServerTestKit
import Testing

/// The resolver parses bytes from guests and from the upstream: it must never trap, loop or read
/// out of bounds, whatever arrives.
@Suite struct DNSMessageFuzzTests {
    static let query = DNSMessage.query(id: 0x4242, name: "files.pypi.org", type: DNSMessage.typeA)

    static var answer: [UInt8] {
        var bytes = query
        bytes[2] = 0x81
        bytes[3] = 0x80
        bytes[7] = 2
        bytes += [0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 0x0c]
        bytes += [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 198, 51, 100, 7]
        return bytes
    }

    @Test func validMessagesRoundTrip() throws {
        let q = try DNSMessage.parseQuery(Self.query)
        #expect(q.question.name == "files.pypi.org" && q.id == 0x4242 && q.question.type == 1)
        let a = try DNSMessage.parseAnswer(Self.answer)
        #expect(a.addresses.map(\.0) == [IPv4("198.51.100.7")!])
        #expect(a.addresses.map(\.1) == [30])
        let reply = DNSMessage.reply(to: q, rcode: 0, addresses: [(IPv4("198.51.100.7")!, 30)])
        #expect(try DNSMessage.parseAnswer(reply).addresses.map(\.0) == [IPv4("198.51.100.7")!])
    }

    @Test func pointerLoopsAndForwardPointersAreRefused() {
        var loop = Array(Self.query.prefix(12))
        loop += [0xc0, 12, 0, 1, 0, 1]
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseQuery(loop) }
        var forward = Array(Self.query.prefix(12))
        forward += [0xc0, 14, 0, 0, 1, 0, 1]
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseQuery(forward) }
        var reserved = Array(Self.query.prefix(12))
        reserved += [0x40, 0, 0, 1, 0, 1]
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseQuery(reserved) }
    }

    @Test func mutatedMessagesNeverTrap() {
        var rng = SplitMix64(seed: 0x4e45_5457)
        let seeds = [Self.query, Self.answer]
        var parsed = 0
        for i in 0..<20_000 {
            var bytes = seeds[i % 2]
            let edits = Int(rng.next() % 8) + 1
            for _ in 0..<edits {
                switch rng.next() % 4 {
                case 0 where !bytes.isEmpty: bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.append(UInt8(truncatingIfNeeded: rng.next()))
                case 2 where !bytes.isEmpty: bytes.removeLast(Int(rng.next() % UInt64(min(bytes.count, 8))))
                default: bytes.insert(0xc0, at: Int(rng.next() % UInt64(bytes.count + 1)))
                }
            }
            if let q = try? DNSMessage.parseQuery(bytes) {
                parsed += 1
                #expect(q.question.name.utf8.count <= 255)
                _ = DNSMessage.reply(to: q, rcode: 3)
            }
            if let a = try? DNSMessage.parseAnswer(bytes) {
                #expect(a.addresses.count <= 64)
            }
        }
        #expect(parsed > 0, "the generator must also reach the parser's success path")
    }
}
