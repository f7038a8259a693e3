public import Foundation
public import HearthAPI
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Agent sessions: REST calls and the SSE event stream.
extension HearthClient {
    public func createAgentSession(_ body: API.CreateAgentSessionBody) async throws -> API.AgentSessionBody {
        try await json(.POST, "/v1/agent-sessions", body: body)
    }

    public func agentSessions() async throws -> [API.AgentSessionBody] {
        let list: API.AgentSessionList = try await json(.GET, "/v1/agent-sessions")
        return list.sessions
    }

    public func agentSession(_ id: String) async throws -> API.AgentSessionBody { try await json(.GET, "/v1/agent-sessions/\(escape(id))") }

    public func deleteAgentSession(_ id: String) async throws { _ = try await send(.DELETE, "/v1/agent-sessions/\(escape(id))") }

    /// Sends a message; the same `idempotencyKey` sent again stores nothing new.
    public func sendAgentMessage(_ id: String, text: String, idempotencyKey: String? = UUID().uuidString) async throws -> API.AgentMessageAccepted {
        var request = makeRequest(.POST, "/v1/agent-sessions/\(escape(id))/messages")
        request.body = .bytes(ByteBuffer(bytes: try API.encoder().encode(API.AgentMessageBody(text: text))))
        request.headers.add(name: "Content-Type", value: "application/json")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        let response = try await execute(request)
        guard (200..<300).contains(response.status.code) else { throw try await failure(response) }
        let body = try await response.body.collect(upTo: 1 << 20)
        return try API.decoder().decode(API.AgentMessageAccepted.self, from: Data(body.readableBytesView))
    }

    public func cancelAgentTurn(_ id: String) async throws -> Bool {
        let result: API.AgentCancelled = try await json(.POST, "/v1/agent-sessions/\(escape(id))/cancel")
        return result.cancelled
    }

    public func agentTranscript(_ id: String) async throws -> API.AgentTranscript {
        try await json(.GET, "/v1/agent-sessions/\(escape(id))/transcript?format=json")
    }

    public func agentTranscriptMarkdown(_ id: String) async throws -> String {
        String(buffer: try await send(.GET, "/v1/agent-sessions/\(escape(id))/transcript?format=md"))
    }

    public func setAgentProvider(_ name: String, _ body: API.AgentProviderBody) async throws -> API.AgentProviderView {
        try await json(.PUT, "/v1/agent-providers/\(escape(name))", body: body)
    }

    public func setAgentSessionIdleTimeout(_ id: String, seconds: Int) async throws -> API.AgentSessionBody {
        try await json(.PATCH, "/v1/agent-sessions/\(escape(id))", body: API.UpdateAgentSessionBody(idle_timeout_seconds: seconds))
    }

    public func agentProviders() async throws -> API.AgentProviderList { try await json(.GET, "/v1/agent-providers") }

    /// Sets the caller's own key for a provider record; their turns spend it instead of the tenant's.
    /// `baseURL`: where the caller allows the key to go; refused (409) unless the record is there.
    public func setMyAgentProviderKey(_ name: String, key: String, baseURL: String) async throws -> API.AgentProviderView {
        try await json(.PUT, "/v1/agent-providers/\(escape(name))/my-key", body: API.AgentUserKeyBody(api_key: key, base_url: baseURL))
    }

    public func deleteMyAgentProviderKey(_ name: String) async throws {
        _ = try await send(.DELETE, "/v1/agent-providers/\(escape(name))/my-key")
    }

    public func system() async throws -> API.SystemBody { try await json(.GET, "/v1/system") }

    /// Streams the session's events after `after` (the last sequence number seen), calling
    /// `onEvent` for each until it returns false or the server ends the stream.
    public func agentEvents(_ id: String, after: Int64 = 0, onEvent: (API.AgentEventBody) async throws -> Bool) async throws {
        var request = makeRequest(.GET, "/v1/agent-sessions/\(escape(id))/events")
        if after > 0 { request.headers.add(name: "Last-Event-ID", value: String(after)) }
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await execute(request)
        guard response.status == .ok else { throw try await failure(response) }
        var parser = ServerSentEventParser()
        for try await buffer in response.body {
            for event in try parser.feed(Array(buffer.readableBytesView)) {
                guard let seq = Int64(event.id), let data = event.data else { continue }
                if try await !onEvent(API.AgentEventBody(seq: seq, type: event.event, data: data, at: Date())) { return }
            }
        }
    }
}

/// A bounded parser of `text/event-stream`: lines of at most `maxLine` bytes, events of at most
/// `maxEvent` bytes; `:` comments skipped; LF or CRLF.
public struct ServerSentEventParser: Sendable {
    public struct Event: Sendable, Equatable {
        public var id = ""
        public var event = "message"
        public var data: String?
    }

    public struct TooLarge: Error {}

    let maxLine: Int
    let maxEvent: Int
    var line: [UInt8] = []
    var current = Event()
    var size = 0

    public init(maxLine: Int = 1 << 20, maxEvent: Int = 4 << 20) {
        self.maxLine = maxLine
        self.maxEvent = maxEvent
    }

    public mutating func feed(_ bytes: [UInt8]) throws -> [Event] {
        var out: [Event] = []
        for byte in bytes {
            if byte != 0x0a {
                guard line.count < maxLine else { throw TooLarge() }
                line.append(byte)
                continue
            }
            if line.last == 0x0d { line.removeLast() }
            defer { line.removeAll(keepingCapacity: true) }
            if line.isEmpty {
                if current.data != nil { out.append(current) }
                current = Event(id: current.id)
                size = 0
                continue
            }
            size &+= line.count
            guard size <= maxEvent else { throw TooLarge() }
            if line.first == 0x3a { continue }
            let text = String(decoding: line, as: UTF8.self)
            let (field, value): (Substring, Substring)
            if let colon = text.firstIndex(of: ":") {
                field = text[..<colon]
                var rest = text[text.index(after: colon)...]
                if rest.first == " " { rest = rest.dropFirst() }
                value = rest
            } else {
                (field, value) = (text[...], "")
            }
            switch field {
            case "id": current.id = String(value)
            case "event": current.event = String(value)
            case "data": current.data = current.data.map { $0 + "\n" + value } ?? String(value)
            default: continue
            }
        }
        return out
    }
}

/// A session's steps, rewind and fork.
extension HearthClient {
    public func agentSteps(_ id: String) async throws -> [API.AgentCheckpointBody] {
        let list: API.AgentCheckpointList = try await json(.GET, "/v1/agent-sessions/\(escape(id))/steps")
        return list.steps
    }

    /// Puts the session's conversation and its workspace's files back to `step`.
    public func rewindAgentSession(_ id: String, step: Int) async throws -> API.AgentCheckpointBody {
        try await json(.POST, "/v1/agent-sessions/\(escape(id))/rewind", body: API.AgentRewindBody(step: step))
    }

    /// A new session and workspace from `step` (nil: the latest); the source is not changed.
    public func forkAgentSession(_ id: String, step: Int? = nil) async throws -> API.AgentSessionBody {
        try await json(.POST, "/v1/agent-sessions/\(escape(id))/fork", body: API.AgentForkBody(step: step))
    }
}

/// What the caller's tenant keeps of ended agent sessions.
extension HearthClient {
    public func agentRetention() async throws -> String {
        let body: API.AgentRetentionBody = try await json(.GET, "/v1/agent-retention")
        return body.mode
    }

    /// `transcripts` or `metadata` (a tenant admin).
    public func setAgentRetention(_ mode: String) async throws -> String {
        let body: API.AgentRetentionBody = try await json(.PUT, "/v1/agent-retention", body: API.AgentRetentionBody(mode: mode))
        return body.mode
    }
}

/// The caller's tenant's own scrub rules.
extension HearthClient {
    public func agentScrubRules() async throws -> [API.AgentScrubRuleBody] {
        let list: API.AgentScrubRuleList = try await json(.GET, "/v1/agent-scrub-rules")
        return list.rules
    }

    /// Replaces the tenant's rules (a tenant admin).
    public func setAgentScrubRules(_ rules: [API.AgentScrubRuleBody]) async throws -> [API.AgentScrubRuleBody] {
        let list: API.AgentScrubRuleList = try await json(.PUT, "/v1/agent-scrub-rules", body: API.AgentScrubRuleList(rules: rules))
        return list.rules
    }
}
