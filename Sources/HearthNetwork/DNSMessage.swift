/// The few DNS messages Hearth's resolver reads and writes (RFC 1035), parsed from bytes a guest
/// or an upstream sent: every offset is checked, compression pointers must point backwards and are
/// followed at most 16 times, a name is at most 255 bytes and a label at most 63.
public enum DNSMessage {
    public struct ParseError: Error, Equatable { public var reason: String }

    public static let maxSize = 4096
    public static let typeA: UInt16 = 1
    public static let typeAAAA: UInt16 = 28
    public static let typeTXT: UInt16 = 16

    public struct Question: Equatable, Sendable {
        /// Lowercase, without the trailing dot; labels as received (checked by the caller).
        public var name: String
        public var labels: [[UInt8]]
        public var type: UInt16
        public var qclass: UInt16
    }

    public struct Query: Equatable, Sendable {
        public var id: UInt16
        public var recursionDesired: Bool
        public var question: Question
        /// The question section exactly as sent, echoed in the answer.
        public var questionBytes: [UInt8]
    }

    public struct Answer: Equatable, Sendable {
        public var id: UInt16
        public var rcode: UInt8
        public var question: Question
        /// A records of the answer section, with their TTLs.
        public var addresses: [(IPv4, UInt32)]
        public static func == (a: Answer, b: Answer) -> Bool {
            a.id == b.id && a.rcode == b.rcode && a.question == b.question && a.addresses.map(\.0) == b.addresses.map(\.0) && a.addresses.map(\.1) == b.addresses.map(\.1)
        }
    }

    static func u16(_ b: [UInt8], _ at: Int) throws(ParseError) -> UInt16 {
        guard at >= 0, at + 2 <= b.count else { throw ParseError(reason: "truncated") }
        return UInt16(b[at]) << 8 | UInt16(b[at + 1])
    }

    static func u32(_ b: [UInt8], _ at: Int) throws(ParseError) -> UInt32 {
        UInt32(try u16(b, at)) << 16 | UInt32(try u16(b, at + 2))
    }

    /// Reads a name at `offset`; returns its labels and the offset after it (after the first pointer).
    static func readName(_ b: [UInt8], at offset: Int) throws(ParseError) -> ([[UInt8]], Int) {
        var labels: [[UInt8]] = []
        var at = offset
        var end: Int?
        var jumps = 0
        var length = 0
        while true {
            guard at >= 0, at < b.count else { throw ParseError(reason: "truncated name") }
            let n = Int(b[at])
            switch n & 0xc0 {
            case 0x00:
                if n == 0 { return (labels, end ?? at + 1) }
                guard at + 1 + n <= b.count else { throw ParseError(reason: "truncated label") }
                length += n + 1
                guard length <= 255 else { throw ParseError(reason: "name too long") }
                labels.append(Array(b[(at + 1)..<(at + 1 + n)]))
                at += 1 + n
            case 0xc0:
                guard at + 2 <= b.count else { throw ParseError(reason: "truncated pointer") }
                let target = (n & 0x3f) << 8 | Int(b[at + 1])
                jumps += 1
                guard target < at, jumps <= 16 else { throw ParseError(reason: "bad compression pointer") }
                if end == nil { end = at + 2 }
                at = target
            default:
                throw ParseError(reason: "reserved label type")
            }
        }
    }

    static func question(_ b: [UInt8], at offset: Int) throws(ParseError) -> (Question, Int) {
        let (labels, after) = try readName(b, at: offset)
        let name = labels.map { String(decoding: $0.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }, as: UTF8.self) }.joined(separator: ".")
        let type = try u16(b, after), qclass = try u16(b, after + 2)
        return (Question(name: name, labels: labels, type: type, qclass: qclass), after + 4)
    }

    /// A standard query with exactly one question.
    public static func parseQuery(_ b: [UInt8]) throws(ParseError) -> Query {
        guard b.count >= 12, b.count <= maxSize else { throw ParseError(reason: "size") }
        let flags = try u16(b, 2)
        guard flags & 0x8000 == 0, (flags >> 11) & 0xf == 0 else { throw ParseError(reason: "not a standard query") }
        guard try u16(b, 4) == 1 else { throw ParseError(reason: "one question only") }
        let (q, end) = try question(b, at: 12)
        return Query(id: try u16(b, 0), recursionDesired: flags & 0x0100 != 0, question: q, questionBytes: Array(b[12..<end]))
    }

    /// An upstream's answer: its question and the A records of its answer section.
    public static func parseAnswer(_ b: [UInt8]) throws(ParseError) -> Answer {
        guard b.count >= 12, b.count <= maxSize else { throw ParseError(reason: "size") }
        let flags = try u16(b, 2)
        guard flags & 0x8000 != 0 else { throw ParseError(reason: "not a response") }
        guard try u16(b, 4) == 1 else { throw ParseError(reason: "one question only") }
        let count = Int(try u16(b, 6))
        var (q, at) = try question(b, at: 12)
        var addresses: [(IPv4, UInt32)] = []
        for _ in 0..<min(count, 64) {
            (_, at) = try readName(b, at: at)
            let type = try u16(b, at), rclass = try u16(b, at + 2), ttl = try u32(b, at + 4)
            let length = Int(try u16(b, at + 8))
            at += 10
            guard at + length <= b.count else { throw ParseError(reason: "truncated record") }
            if type == typeA, rclass == 1, length == 4 { addresses.append((IPv4(bytes: b[at..<(at + 4)]), ttl)) }
            at += length
        }
        q.labels = []
        return Answer(id: try u16(b, 0), rcode: UInt8(flags & 0xf), question: q, addresses: addresses)
    }

    /// Hearth's reply to `query`: its question echoed, then A records for `addresses`.
    public static func reply(to query: Query, rcode: UInt8, addresses: [(IPv4, UInt32)] = []) -> [UInt8] {
        var out: [UInt8] = []
        func put16(_ v: UInt16) { out += [UInt8(v >> 8), UInt8(v & 0xff)] }
        put16(query.id)
        put16(0x8080 | (query.recursionDesired ? 0x0100 : 0) | UInt16(rcode & 0xf))
        put16(1)
        put16(UInt16(min(addresses.count, 32)))
        put16(0)
        put16(0)
        out += query.questionBytes
        for (address, ttl) in addresses.prefix(32) {
            out += [0xc0, 0x0c]
            put16(typeA)
            put16(1)
            put16(UInt16(ttl >> 16))
            put16(UInt16(ttl & 0xffff))
            put16(4)
            out += address.bytes
        }
        return out
    }

    /// A query for `name` (already checked by `NetworkRule.isValidName`).
    public static func query(id: UInt16, name: String, type: UInt16) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            out.append(UInt8(min(label.utf8.count, 63)))
            out += label.utf8.prefix(63)
        }
        out += [0, UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
        return out
    }

    public static let noError: UInt8 = 0
    public static let formErr: UInt8 = 1
    public static let servFail: UInt8 = 2
    public static let nxDomain: UInt8 = 3
    public static let refused: UInt8 = 5
}
