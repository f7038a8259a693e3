import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthIdentity
import HearthScrub
import HTTPTypes
import Hummingbird
import Logging

/// `/v1/agent-sessions`, `/v1/agent-providers` and `/v1/system`: parse, authorize (within the
/// caller's tenant: another tenant's session is 404), hand one call to `AgentSessionManager`.
struct AgentSessionRoutes {
    let sessions: AgentSessionManager
    let keys: any AgentKeySealer
    let auditor: Auditor
    let providerHosts: AgentProviderHostPolicy
    let keepalive: SSEKeepalive

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    /// A user message is at most this many bytes.
    static let maxMessageBytes = 256 * 1024

    func register(on group: RouterGroup<HearthContext>) {
        let sessions = self.sessions
        let auditor = self.auditor
        group.post("agent-sessions") { request, context in
            let body = try await request.decode(as: API.CreateAgentSessionBody.self, context: context)
            let writer = try context.writer()
            let create = try Self.parse(body, tenantId: writer.tenantId, userId: writer.userId, byOperator: writer.isOperator,
                                        scrubber: AgentScrubRuleRoutes.scrubber(sessions.store, tenantId: writer.tenantId))
            do {
                let session = try await auditor.around(context, "agent_session.create", target: body.provider + "/" + body.model) {
                    try await sessions.create(create)
                }
                return try json(Self.body(session), status: .created)
            } catch let refused as AgentAdmissionRefused {
                return try Self.refuse(refused)
            }
        }
        group.get("agent-sessions") { _, context in
            let all = try await sessions.list(tenantId: try context.caller().tenantId)
            return try json(API.AgentSessionList(sessions: all.map(Self.body)))
        }
        group.get("agent-sessions/:id") { _, context in
            try json(Self.body(try await sessions.get(try context.parameters.require("id"), tenantId: try context.caller().tenantId)))
        }
        group.patch("agent-sessions/:id") { request, context in
            let id = try context.parameters.require("id")
            let tenant = try context.writer().tenantId
            let body = try await request.decode(as: API.UpdateAgentSessionBody.self, context: context)
            guard let seconds = body.idle_timeout_seconds else { throw HearthError(.invalidArgument, "give idle_timeout_seconds") }
            let session = try await auditor.around(context, "agent_session.update", target: id, detail: "idle_timeout_seconds=\(seconds)") {
                try await sessions.setIdleTimeout(id, tenantId: tenant, seconds: seconds)
            }
            return try json(Self.body(session))
        }
        group.delete("agent-sessions/:id") { _, context in
            let id = try context.parameters.require("id")
            let tenant = try context.writer().tenantId
            try await auditor.around(context, "agent_session.delete", target: id) { try await sessions.delete(id, tenantId: tenant) }
            return Response(status: .noContent)
        }
        group.post("agent-sessions/:id/messages") { request, context in
            let id = try context.parameters.require("id")
            let writer = try context.writer()
            let tenant = writer.tenantId
            let key = try Self.idempotencyKey(request.headers[Self.idempotencyKey])
            let body = try await request.decode(as: API.AgentMessageBody.self, context: context)
            guard !body.text.isEmpty, body.text.utf8.count <= Self.maxMessageBytes else {
                throw HearthError(.invalidArgument, "text must be 1 to \(Self.maxMessageBytes) bytes")
            }
            // The audit log records that a message was sent, never its content.
            let (event, duplicate) = try await auditor.around(context, "agent_session.message", target: id) {
                try await sessions.send(id, tenantId: tenant, userId: writer.userId, text: body.text, idempotencyKey: key)
            }
            return try json(API.AgentMessageAccepted(seq: event.seq, duplicate: duplicate), status: duplicate ? .ok : .accepted)
        }
        group.post("agent-sessions/:id/cancel") { _, context in
            let id = try context.parameters.require("id")
            let tenant = try context.writer().tenantId
            let cancelled = try await auditor.around(context, "agent_session.cancel", target: id) { try await sessions.cancel(id, tenantId: tenant) }
            return try json(API.AgentCancelled(cancelled: cancelled))
        }
        group.get("agent-sessions/:id/steps") { request, context in
            var after: Int?
            if let text = request.uri.queryParameters.get("after") {
                guard let value = Int(text), value >= 0 else { throw HearthError(.invalidArgument, "after is a step number") }
                after = value
            }
            let steps = try await sessions.checkpoints(try context.parameters.require("id"), tenantId: try context.caller().tenantId, after: after)
            return try json(API.AgentCheckpointList(steps: steps.map(Self.body)))
        }
        group.post("agent-sessions/:id/rewind") { request, context in
            let id = try context.parameters.require("id")
            let tenant = try context.writer().tenantId
            let body = try await request.decode(as: API.AgentRewindBody.self, context: context)
            guard body.step >= 0 else { throw HearthError(.invalidArgument, "step is 0 or more") }
            let step = try await auditor.around(context, "agent_session.rewind", target: "\(id) step \(body.step)") {
                try await sessions.rewind(id, tenantId: tenant, step: body.step)
            }
            return try json(Self.body(step))
        }
        group.post("agent-sessions/:id/fork") { request, context in
            let id = try context.parameters.require("id")
            let writer = try context.writer()
            let body = try await request.decode(as: API.AgentForkBody.self, context: context)
            if let step = body.step, step < 0 { throw HearthError(.invalidArgument, "step is 0 or more") }
            do {
                let session = try await auditor.around(context, "agent_session.fork", target: id + (body.step.map { " step \($0)" } ?? "")) {
                    try await sessions.fork(id, tenantId: writer.tenantId, userId: writer.userId, step: body.step)
                }
                return try json(Self.body(session), status: .created)
            } catch let refused as AgentAdmissionRefused {
                return try Self.refuse(refused)
            }
        }
        group.get("agent-sessions/:id/transcript") { request, context in
            let id = try context.parameters.require("id")
            let session = try await sessions.get(id, tenantId: try context.caller().tenantId)
            guard let format = AgentTranscriptExport.Format(rawValue: String(request.uri.queryParameters.get("format") ?? "json")) else {
                throw HearthError(.invalidArgument, "format is md or json")
            }
            let store = sessions.store
            let logger = context.logger
            let scrubber = ScrubSession(scrubber: AgentScrubRuleRoutes.scrubber(store, tenantId: session.tenantId))
            // Streamed page by page; a failure mid-way (the database) cuts the body short, which
            // the client sees as a truncated transcript rather than a second status.
            return Response(status: .ok, headers: [.contentType: format.contentType], body: ResponseBody { writer in
                do {
                    try await AgentTranscriptExport.write(store, session, format: format, scrubber: scrubber) { try await writer.write($0) }
                } catch {
                    logger.warning("agent transcript export cut short", metadata: ["agent.session": "\(id)", "error": "\(error)"])
                    throw error
                }
                try await writer.finish(nil)
            })
        }
        group.get("agent-retention") { _, context in
            try json(API.AgentRetentionBody(mode: try await sessions.retention(tenantId: try context.caller().tenantId).rawValue))
        }
        group.put("agent-retention") { request, context in
            let admin = try context.admin()
            let body = try await request.decode(as: API.AgentRetentionBody.self, context: context)
            guard let mode = AgentRetention(rawValue: body.mode) else { throw HearthError(.invalidArgument, "mode is transcripts or metadata") }
            try await auditor.around(context, "agent_retention.set", target: mode.rawValue) {
                try await sessions.setRetention(mode, tenantId: admin.tenantId)
            }
            return try json(API.AgentRetentionBody(mode: mode.rawValue))
        }
        AgentSessionEventStream(sessions: sessions, keepalive: keepalive).register(on: group)
        AgentProviderRoutes(store: sessions.store, keys: keys, auditor: auditor, hosts: providerHosts).register(on: group)
        AgentScrubRuleRoutes(store: sessions.store, auditor: auditor).register(on: group)
        group.get("system") { _, context in
            // How busy other tenants are is not a tenant's business: the count is the caller's
            // tenant's, except for the operator. Memory and load say only whether a session fits.
            let caller = try context.caller()
            let load = sessions.load()
            let count = try sessions.store.liveSessionCount(tenantId: caller.isOperator ? nil : caller.tenantId)
            return try json(API.SystemBody(memory_total_bytes: load.memoryTotalBytes, memory_available_bytes: load.memoryAvailableBytes,
                                           memory_pressure: load.memoryPressure, load1: load.load1, agent_sessions: count,
                                           admission_threshold: sessions.admissionThreshold))
        }
    }

    static func parse(_ body: API.CreateAgentSessionBody, tenantId: String, userId: String, byOperator: Bool,
                      scrubber: Scrubber = .standard) throws -> CreateAgentSession {
        guard AgentProviderRoutes.isValidName(body.provider) else { throw HearthError(.invalidArgument, "unknown provider \(body.provider.prefix(64))") }
        guard !body.model.isEmpty, body.model.utf8.count <= 256 else { throw HearthError(.invalidArgument, "model must be 1 to 256 bytes") }
        if let prompt = body.system_prompt, prompt.utf8.count > maxMessageBytes {
            throw HearthError(.invalidArgument, "system_prompt is at most \(maxMessageBytes) bytes")
        }
        var onIdle = AgentSessionRecord.OnIdle.pause
        if let name = body.on_idle {
            guard let parsed = AgentSessionRecord.OnIdle(rawValue: name) else { throw HearthError(.invalidArgument, "on_idle is pause or delete") }
            onIdle = parsed
        }
        if body.workspace != nil && body.new_workspace != nil {
            throw HearthError(.invalidArgument, "name an existing workspace or describe a new one, not both")
        }
        let newWorkspace = try body.new_workspace.map { try WorkspaceRoutes.parse($0, tenantId: tenantId, byOperator: byOperator) }
        return CreateAgentSession(tenantId: tenantId, userId: userId, provider: body.provider, model: body.model, workspace: body.workspace,
                                  newWorkspace: newWorkspace, systemPrompt: body.system_prompt ?? "",
                                  idleTimeoutSeconds: body.idle_timeout_seconds ?? AgentSessionRecord.defaultIdleTimeout, onIdle: onIdle,
                                  budgetTokens: body.budget_tokens, extraFieldsJSON: try extraFields(body.extra_fields, scrubber: scrubber))
    }

    /// Members the session itself sets in every request: an extra field may not replace them.
    /// `stream_options` carries the usage the budget counts, and `n` would bill choices no one reads.
    static let reservedExtraFields: Set<String> = ["model", "messages", "system", "stream", "tools", "stream_options", "n"]
    static let maxExtraFieldsBytes = 16 * 1024
    /// Nesting and values: enough for any provider's settings, and far from the depth at which a
    /// response that wraps the session could no longer be encoded.
    static let maxExtraFieldsDepth = 16
    static let maxExtraFieldsValues = 1024

    /// The extra fields as the JSON text the provider adapters merge: bounded, none of the session's
    /// own members, and nothing the scrubber takes for a secret (what leaves for a provider is
    /// scrubbed, and these would leave on every request).
    static func extraFields(_ fields: [String: API.JSONValue]?, scrubber: Scrubber = .standard) throws -> String? {
        guard let fields, !fields.isEmpty else { return nil }
        var values = 0
        guard Self.within(.object(fields), depth: 1, values: &values) else {
            throw HearthError(.invalidArgument, "extra_fields nests at most \(maxExtraFieldsDepth) deep and holds at most \(maxExtraFieldsValues) values")
        }
        if let reserved = fields.keys.sorted().first(where: reservedExtraFields.contains) {
            throw HearthError(.invalidArgument, "extra_fields may not set \(reserved.prefix(64)); the session sets it")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(fields), as: UTF8.self)
        guard text.utf8.count <= maxExtraFieldsBytes else { throw HearthError(.invalidArgument, "extra_fields is at most \(maxExtraFieldsBytes) bytes of JSON") }
        var session = ScrubSession(scrubber: scrubber)
        let scrubbed = session.scrub(text)
        guard scrubbed.isClean else {
            let rules = scrubbed.hits.keys.map { $0.rawValue }.sorted().joined(separator: ", ")
            throw HearthError(.invalidArgument, "extra_fields holds what looks like a secret (\(rules)); keys belong in the provider record")
        }
        return text
    }

    private static func within(_ value: API.JSONValue, depth: Int, values: inout Int) -> Bool {
        values += 1
        guard depth <= maxExtraFieldsDepth, values <= maxExtraFieldsValues else { return false }
        switch value {
        case .array(let items): return items.allSatisfy { within($0, depth: depth + 1, values: &values) }
        case .object(let members): return members.values.allSatisfy { within($0, depth: depth + 1, values: &values) }
        default: return true
        }
    }

    static func extraFields(_ text: String?) -> [String: API.JSONValue]? {
        guard let text else { return nil }
        return try? JSONDecoder().decode([String: API.JSONValue].self, from: Data(text.utf8))
    }

    /// An `Idempotency-Key`: absent, or 1 to 200 visible ASCII characters.
    static func idempotencyKey(_ value: String?) throws -> String? {
        guard let value else { return nil }
        guard (1...200).contains(value.utf8.count), value.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw HearthError(.invalidArgument, "Idempotency-Key must be 1 to 200 visible ASCII characters")
        }
        return value
    }

    static func refuse(_ refused: AgentAdmissionRefused) throws -> Response {
        let body = try API.encoder().encode(API.ErrorBody(code: HearthError.Code.runtimeUnavailable.rawValue,
                                                          message: "the server is short of memory; try again later", requestId: nil))
        return Response(status: .serviceUnavailable, headers: [.contentType: "application/json", .retryAfter: String(refused.retryAfterSeconds)],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func body(_ s: AgentSessionRecord) -> API.AgentSessionBody {
        API.AgentSessionBody(id: s.id, provider: s.provider, model: s.model, workspace: s.workspaceId, system_prompt: s.systemPrompt,
                             idle_timeout_seconds: s.idleTimeoutSeconds, on_idle: s.onIdle.rawValue, budget_tokens: s.budgetTokens,
                             tokens_used: s.tokensUsed, state: s.state.rawValue, end_reason: s.endReason, created_at: s.createdAt,
                             last_activity_at: s.lastActivityAt, extra_fields: extraFields(s.extraFields), content_purged_at: s.contentPurgedAt)
    }

    static func body(_ c: AgentCheckpoint) -> API.AgentCheckpointBody {
        API.AgentCheckpointBody(step: c.step, kind: c.kind.rawValue, seq: c.seq, generation: c.generation, at: c.at)
    }

    static func body(_ e: AgentEvent) -> API.AgentEventBody {
        API.AgentEventBody(seq: e.seq, type: e.type.rawValue, data: e.data, at: e.at)
    }
}
