public import HearthAgentCore

/// One Server-Sent Event as dispatched by a blank line.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field, when the provider named the event (Anthropic does; OpenAI does not).
    public var event: String?
    /// The `data:` lines joined with "\n".
    public var data: String

    public init(event: String? = nil, data: String) {
        self.event = event
        self.data = data
    }
}

/// An incremental, bounded parser of a `text/event-stream` body (WHATWG HTML §9.2.6), fed the bytes
/// as they arrive. The provider is an untrusted peer: a line longer than `maxLineBytes` or an event
/// whose data passes `maxEventBytes` ends the stream with `ProviderFailure.malformed` instead of
/// growing memory. Lines end in LF, CRLF or CR (a CRLF split across two reads is one line end).
/// Comment lines (`: OPENROUTER PROCESSING`, `: ping`) are skipped; `id:` and `retry:` are ignored
/// because a provider stream is never resumed.
public struct SSEParser: Sendable {
    public static let maxLineBytes = 1 << 20
    public static let maxEventBytes = 4 << 20

    public let maxLine: Int
    public let maxEvent: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventName: String?
    /// The previous byte was a CR: an LF right after it ends nothing more.
    private var afterCR = false

    public init(maxLine: Int = SSEParser.maxLineBytes, maxEvent: Int = SSEParser.maxEventBytes) {
        self.maxLine = maxLine
        self.maxEvent = maxEvent
    }

    /// Feeds the next bytes; returns the events they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(ProviderFailure) -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            if byte == 0x0A, afterCR {
                afterCR = false
                continue
            }
            afterCR = false
            if byte == 0x0A || byte == 0x0D {
                afterCR = byte == 0x0D
                if let event = try endLine() { events.append(event) }
                continue
            }
            guard line.count < maxLine else {
                throw ProviderFailure(.malformed, "an event-stream line is longer than \(maxLine) bytes")
            }
            line.append(byte)
        }
        return events
    }

    /// Whether bytes of an unfinished event are pending (the stream ended mid-event).
    public var hasPartialEvent: Bool { !line.isEmpty || hasData }

    private mutating func endLine() throws(ProviderFailure) -> SSEEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer {
                data.removeAll(keepingCapacity: true)
                hasData = false
                eventName = nil
            }
            guard hasData else { return nil }
            return SSEEvent(event: eventName, data: String(decoding: data, as: UTF8.self))
        }
        if line[0] == 0x3A { return nil }  // ":" comment
        let colon = line.firstIndex(of: 0x3A) ?? line.endIndex
        let field = line[..<colon]
        var valueStart = colon == line.endIndex ? colon : colon + 1
        if valueStart < line.endIndex, line[valueStart] == 0x20 { valueStart += 1 }
        let value = line[valueStart...]
        if field.elementsEqual("data".utf8) {
            let added = value.count &+ (hasData ? 1 : 0)
            guard data.count &+ added <= maxEvent else {
                throw ProviderFailure(.malformed, "an event-stream event is larger than \(maxEvent) bytes")
            }
            if hasData { data.append(0x0A) }
            data.append(contentsOf: value)
            hasData = true
        } else if field.elementsEqual("event".utf8) {
            eventName = String(decoding: value, as: UTF8.self)
        }
        return nil
    }
}
