import Foundation
import HearthAgentCore
import HearthCore
import Logging

extension AgentSessionManager {
    /// After a crash (even kill -9): every session that was mid-turn has its open tool calls
    /// closed as `interrupted`, an unfinished answer closed, and goes back to idle. Nothing is
    /// re-run; the next message continues the session. Returns the sessions it touched.
    @discardableResult
    public func recover() throws -> [String] {
        var touched: [String] = []
        for session in try store.sessions() where session.state != .ended {
            var after: Int64 = 0
            var open: [String: String] = [:]
            var order: [String] = []
            var lastMessagePartial = false
            while true {
                let page = try store.events(session.id, after: after, limit: 512)
                guard let last = page.last else { break }
                after = last.seq
                for event in page {
                    let fields = Self.fields(event.data)
                    switch event.type {
                    case .toolCall:
                        if let id = fields["id"] as? String {
                            if open[id] == nil { order.append(id) }
                            open[id] = fields["name"] as? String ?? ""
                        }
                    case .toolResult:
                        if let id = fields["id"] as? String { open[id] = nil }
                    case .message:
                        lastMessagePartial = (fields["role"] as? String) == "assistant" && (fields["partial"] as? Bool) == true
                    default:
                        break
                    }
                }
            }
            let interrupted = session.state == .busy || !open.isEmpty || lastMessagePartial
            guard interrupted else { continue }
            if lastMessagePartial {
                try events.append(session.id, .message, ["role": .string("assistant"), "text": .string(""), "partial": .bool(false),
                                                         "interrupted": .bool(true)])
            }
            for id in order {
                guard let name = open[id] else { continue }
                try events.append(session.id, .toolResult, ["id": .string(id), "name": .string(name), "is_error": .bool(true),
                                                            "interrupted": .bool(true), "content": .string("interrupted: the server restarted before this call finished; it was not re-run")])
            }
            try closeHistory(session.id)
            try store.update(session.id) { record in
                if record.state == .busy { record.state = .idle }
                record.lastActivityAt = clock.now()
            }
            try events.append(session.id, .agentIdle, ["outcome": .string("interrupted")])
            logger.notice("agent session recovered", metadata: ["agent.session": "\(session.id)", "agent.interrupted_calls": "\(order.count)"])
            touched.append(session.id)
        }
        return touched
    }

    /// The provider-facing history must answer every tool_use with a tool_result, or the next
    /// request is refused: an assistant message whose calls got no results gets interrupted ones.
    func closeHistory(_ id: String) throws {
        guard let json = try store.history(id).last,
              let last = try? JSONDecoder().decode(ChatMessage.self, from: Data(json.utf8)),
              last.role == .assistant, !last.toolCalls.isEmpty else { return }
        let results = ChatMessage(role: .user, content: last.toolCalls.map {
            .toolResult(id: $0.id, content: "interrupted: the server restarted before this call finished; it was not re-run", isError: true)
        })
        try store.appendHistory(id, String(decoding: try JSONEncoder().encode(results), as: UTF8.self))
    }

    static func fields(_ data: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
    }
}

/// Reads memory and load from /proc.
public enum SystemLoadProbe {
    @Sendable public static func read() -> SystemLoad {
        var total: UInt64 = 0
        var available: UInt64 = 0
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
            for line in meminfo.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                guard parts.count >= 2, let kib = UInt64(parts[1]) else { continue }
                let (bytes, overflow) = kib.multipliedReportingOverflow(by: 1024)
                if parts[0] == "MemTotal:" { total = overflow ? .max : bytes }
                if parts[0] == "MemAvailable:" { available = overflow ? .max : bytes }
            }
        }
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) } ?? 0
        return SystemLoad(memoryTotalBytes: total, memoryAvailableBytes: available, load1: load)
    }
}
