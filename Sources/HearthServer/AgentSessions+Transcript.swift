import Foundation
import HearthControlPlane

/// A session's transcript as JSON events or Markdown.
enum AgentTranscriptExport {
    /// Every stored event, in order, read in pages.
    static func events(_ store: AgentSessionStore, _ id: String) throws -> [AgentEvent] {
        var all: [AgentEvent] = []
        var after: Int64 = 0
        while true {
            let page = try store.events(id, after: after, limit: 1024)
            guard let last = page.last else { return all }
            all += page
            after = last.seq
        }
    }

    static func markdown(_ session: AgentSessionRecord, _ events: [AgentEvent]) -> String {
        var out = "# Agent session \(session.id)\n\nModel `\(session.model)` (provider `\(session.provider)`), workspace `\(session.workspaceId)`.\n"
        var inAnswer = false
        for event in events {
            let fields = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any] ?? [:]
            switch event.type {
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
                continue
            }
        }
        return out
    }
}
