import Foundation
import HearthClient
import HearthControlPlane
import HearthServerTestKit
import Testing

/// The parsers of agent-session bytes from the other side: the resume cursor a client sends, and
/// the event stream the CLI reads. Seeded, fixed iterations: no crash, bounds hold.
@Suite struct AgentEventParsingFuzzTests {
    @Test func theResumeCursorAcceptsExactlyDecimalInt64s() {
        #expect(AgentEventCursor.parse("0") == 0)
        #expect(AgentEventCursor.parse("9223372036854775807") == Int64.max)
        #expect(AgentEventCursor.parse("9223372036854775808") == nil)
        #expect(AgentEventCursor.parse("99999999999999999999") == nil)
        for bad in ["", "-1", "+1", " 1", "1 ", "0x10", "1e3", "١٢", String(repeating: "9", count: 100_000)] {
            #expect(AgentEventCursor.parse(bad) == nil, "\(bad.prefix(20))")
        }
        var random = SplitMix64(seed: 0x5e55)
        let alphabet = Array("0123456789-+ eE.x\u{0}\u{660}9")
        for _ in 0..<20_000 {
            let length = Int(random.next() % 24)
            let text = String((0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
            let parsed = AgentEventCursor.parse(text)
            if let parsed {
                #expect(parsed >= 0 && String(parsed) == String(text.drop { $0 == "0" }).nilIfEmpty ?? "0")
            }
        }
    }

    @Test func theEventStreamParserIsBoundedAndNeverCrashes() throws {
        var parser = ServerSentEventParser(maxLine: 64, maxEvent: 256)
        let events = try parser.feed(Array("id: 1\nevent: message\ndata: {\"a\":1}\n\n: comment\r\nid: 2\r\nevent: status\r\ndata: x\r\ndata: y\r\n\r\n".utf8))
        #expect(events.map(\.id) == ["1", "2"])
        #expect(events.last?.data == "x\ny")
        var long = ServerSentEventParser(maxLine: 64, maxEvent: 256)
        #expect(throws: ServerSentEventParser.TooLarge.self) { _ = try long.feed(Array(repeating: 0x61, count: 65)) }
        var random = SplitMix64(seed: 0xe7e7)
        let pieces = ["id: ", "event: ", "data: ", ":", "\n", "\r\n", "\n\n", "x", "{\"k\":\"v\"}", "\u{0}", "é"]
        for _ in 0..<5_000 {
            var parser = ServerSentEventParser(maxLine: 128, maxEvent: 512)
            var bytes: [UInt8] = []
            for _ in 0..<Int(random.next() % 64) { bytes += Array(pieces[Int(random.next() % UInt64(pieces.count))].utf8) }
            do {
                for event in try parser.feed(bytes) { #expect((event.data?.utf8.count ?? 0) <= 512) }
            } catch is ServerSentEventParser.TooLarge {
                continue
            }
        }
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
