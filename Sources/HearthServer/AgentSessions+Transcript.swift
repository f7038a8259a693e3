import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthScrub
import NIOCore

/// A session's transcript as JSON or Markdown, streamed: events are read a page at a time and
/// each page is written before the next is read, so a long session's export holds one page in
/// memory, not the whole transcript.
enum AgentTranscriptExport {
    static let pageSize = 512

    enum Format: String {
        case json
        case md

        var contentType: String {
            switch self {
            case .json: "application/json"
            case .md: "text/markdown; charset=utf-8"
            }
        }
    }

    /// Writes the transcript. The JSON is byte for byte what encoding `API.AgentTranscript` with
    /// `API.encoder()` gives (sorted keys: `events` before `session`).
    static func write(_ store: AgentSessionStore, _ session: AgentSessionRecord, format: Format, scrubber: ScrubSession = ScrubSession(),
                      to write: (ByteBuffer) async throws -> Void) async throws {
        // An export leaves Hearth as a file: what the user typed and what tools printed is scrubbed
        // with the tenant's rules, one scrubber for the whole export so a value keeps its marker.
        var scrubber = scrubber
        let encoder = API.encoder()
        // Markdown is the conversation as it now is (what rewinds took out is left out); JSON is
        // every event, as the event stream replays them.
        var markdown = MarkdownTranscript(rewound: format == .md ? try store.rewoundRanges(session.id) : [])
        try await write(ByteBuffer(string: format == .json ? #"{"events":["# : MarkdownTranscript.header(session)))
        var after: Int64 = 0
        var first = true
        while true {
            let page = try store.events(session.id, after: after, limit: pageSize)
            guard let last = page.last else { break }
            after = last.seq
            var chunk = ByteBuffer()
            for event in page {
                switch format {
                case .json:
                    if !first { chunk.writeString(",") }
                    var body = AgentSessionRoutes.body(event)
                    body.data = Self.scrubbed(fields: body.data, &scrubber)
                    chunk.writeBytes(try encoder.encode(body))
                case .md:
                    chunk.writeString(scrubber.scrub(markdown.render(event)).text)
                }
                first = false
            }
            try await write(chunk)
        }
        if format == .json {
            var tail = ByteBuffer(string: #"],"session":"#)
            var body = AgentSessionRoutes.body(session)
            body.system_prompt = scrubber.scrub(body.system_prompt).text
            tail.writeBytes(try encoder.encode(body))
            tail.writeString("}")
            try await write(tail)
        }
    }
}

extension AgentTranscriptExport {
    /// An event's JSON object with each string value scrubbed (values, not the text as a whole, so
    /// a replacement never cuts through the JSON around it).
    static func scrubbed(fields data: String, _ scrubber: inout ScrubSession) -> String {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] else { return scrubber.scrub(data).text }
        var changed = false
        for (key, value) in object {
            guard let text = value as? String else { continue }
            let outcome = scrubber.scrub(text)
            if !outcome.isClean { object[key] = outcome.text; changed = true }
        }
        guard changed, let bytes = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return data }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Markdown of a transcript, one event at a time: an assistant answer stored as several partial
/// `message` events runs on under one heading.
struct MarkdownTranscript {
    var inAnswer = false
    /// Events rewinds took out of the conversation: merged, in order, and walked with one cursor
    /// as events come in order, so many rewinds cost no more per event than one.
    let rewound: [ClosedRange<Int64>]
    var cursor = 0

    init(rewound: [ClosedRange<Int64>] = []) {
        var merged: [ClosedRange<Int64>] = []
        for range in rewound.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        self.rewound = merged
    }

    mutating func isRewound(_ seq: Int64) -> Bool {
        while cursor < rewound.count, rewound[cursor].upperBound < seq { cursor += 1 }
        return cursor < rewound.count && rewound[cursor].contains(seq)
    }

    static func header(_ session: AgentSessionRecord) -> String {
        "# Agent session \(session.id)\n\nModel `\(session.model)` (provider `\(session.provider)`), workspace `\(session.workspaceId)`.\n"
    }

    mutating func render(_ event: AgentEvent) -> String {
        if isRewound(event.seq) { return "" }
        let fields = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any] ?? [:]
        var out = ""
        switch event.type {
        case .rewind:
            inAnswer = false
            out += "\n> Rewound to step \(fields["step"] as? Int ?? 0)\n"
        case .message:
            let role = fields["role"] as? String ?? ""
            let text = fields["text"] as? String ?? ""
            if role == "assistant" {
                if !inAnswer { out += "\n## Assistant\n\n"; inAnswer = true }
                out += text
                if (fields["partial"] as? Bool) != true { out += "\n"; inAnswer = false }
            } else {
                inAnswer = false
                out += "\n## User\n\n\(text)\n"
            }
        case .toolCall:
            inAnswer = false
            out += "\n**Tool call** `\(fields["name"] as? String ?? "")`\n\n```json\n\(fields["arguments"] as? String ?? "")\n```\n"
        case .toolResult:
            inAnswer = false
            let tag = (fields["interrupted"] as? Bool) == true ? " (interrupted)" : (fields["is_error"] as? Bool) == true ? " (error)" : ""
            out += "\n**Tool result**\(tag)\n\n```\n\(fields["content"] as? String ?? "")\n```\n"
        case .errorEvent:
            inAnswer = false
            out += "\n> Error: \(fields["message"] as? String ?? "")\n"
        case .exit:
            out += "\n> Session ended: \(fields["reason"] as? String ?? "")\n"
        default:
            break
        }
        return out
    }
}
