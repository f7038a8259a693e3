public import Foundation

/// `/v1/agent-sessions`, `/v1/agent-providers` and `/v1/system` (issue 18).
extension API {
    public struct CreateAgentSessionBody: Codable, Sendable {
        public var provider: String
        public var model: String
        /// An existing workspace (id or name); absent makes a new one from `new_workspace`.
        public var workspace: String?
        public var new_workspace: CreateWorkspaceBody?
        public var system_prompt: String?
        /// Default 72 h; from 300 (5 min) to 604800 (7 days).
        public var idle_timeout_seconds: Int?
        /// `pause` (default) or `delete`: what an idle timeout does to the workspace.
        public var on_idle: String?
        public var budget_tokens: Int?
        /// Members merged into every request this session sends its provider, unchanged
        /// (`tool_choice`, `logit_bias`, `parallel_tool_calls`, reasoning settings…). At most 16 KiB;
        /// not `model`, `messages`, `system`, `stream` or `tools`, which the session sets.
        public var extra_fields: [String: JSONValue]?

        public init(provider: String, model: String, workspace: String? = nil, new_workspace: CreateWorkspaceBody? = nil,
                    system_prompt: String? = nil, idle_timeout_seconds: Int? = nil, on_idle: String? = nil, budget_tokens: Int? = nil,
                    extra_fields: [String: JSONValue]? = nil) {
            self.extra_fields = extra_fields
            self.provider = provider
            self.model = model
            self.workspace = workspace
            self.new_workspace = new_workspace
            self.system_prompt = system_prompt
            self.idle_timeout_seconds = idle_timeout_seconds
            self.on_idle = on_idle
            self.budget_tokens = budget_tokens
        }
    }

    public struct AgentSessionBody: Codable, Sendable, Equatable {
        public var id: String
        public var provider: String
        public var model: String
        public var workspace: String
        public var system_prompt: String
        public var idle_timeout_seconds: Int
        public var on_idle: String
        public var budget_tokens: Int?
        public var tokens_used: Int
        /// idle, busy or ended.
        public var state: String
        public var end_reason: String?
        public var created_at: Date
        public var last_activity_at: Date
        public var extra_fields: [String: JSONValue]?
        /// When the tenant's retention purged the session's content (it had ended).
        public var content_purged_at: Date?

        public init(id: String, provider: String, model: String, workspace: String, system_prompt: String, idle_timeout_seconds: Int,
                    on_idle: String, budget_tokens: Int?, tokens_used: Int, state: String, end_reason: String?, created_at: Date,
                    last_activity_at: Date, extra_fields: [String: JSONValue]? = nil, content_purged_at: Date? = nil) {
            self.extra_fields = extra_fields
            self.content_purged_at = content_purged_at
            self.id = id
            self.provider = provider
            self.model = model
            self.workspace = workspace
            self.system_prompt = system_prompt
            self.idle_timeout_seconds = idle_timeout_seconds
            self.on_idle = on_idle
            self.budget_tokens = budget_tokens
            self.tokens_used = tokens_used
            self.state = state
            self.end_reason = end_reason
            self.created_at = created_at
            self.last_activity_at = last_activity_at
        }
    }

    public struct AgentSessionList: Codable, Sendable {
        public var sessions: [AgentSessionBody]
        public init(sessions: [AgentSessionBody]) { self.sessions = sessions }
    }

    public struct AgentMessageBody: Codable, Sendable {
        public var text: String
        public init(text: String) { self.text = text }
    }

    /// The answer to a sent message: the stored event's sequence number (resume the stream after it).
    public struct AgentMessageAccepted: Codable, Sendable {
        public var seq: Int64
        public var duplicate: Bool
        public init(seq: Int64, duplicate: Bool) {
            self.seq = seq
            self.duplicate = duplicate
        }
    }

    public struct AgentCancelled: Codable, Sendable {
        public var cancelled: Bool
        public init(cancelled: Bool) { self.cancelled = cancelled }
    }

    /// One stored event, as the transcript export and the SSE `data:` carry it.
    public struct AgentEventBody: Codable, Sendable, Equatable {
        public var seq: Int64
        public var type: String
        /// The event's JSON object, as text.
        public var data: String
        public var at: Date
        public init(seq: Int64, type: String, data: String, at: Date) {
            self.seq = seq
            self.type = type
            self.data = data
            self.at = at
        }
    }

    public struct AgentTranscript: Codable, Sendable {
        public var session: AgentSessionBody
        public var events: [AgentEventBody]
        public init(session: AgentSessionBody, events: [AgentEventBody]) {
            self.session = session
            self.events = events
        }
    }

    /// A provider record as set by a tenant admin. `api_key` is write-only: never returned.
    public struct AgentProviderBody: Codable, Sendable {
        public var kind: String
        public var base_url: String
        public var api_key: String?
        /// Merged into every request to this provider; a session's own extra fields win.
        public var extra_fields: [String: JSONValue]?
        public init(kind: String, base_url: String, api_key: String? = nil, extra_fields: [String: JSONValue]? = nil) {
            self.kind = kind
            self.base_url = base_url
            self.api_key = api_key
            self.extra_fields = extra_fields
        }
    }

    /// What may change on a session: its idle timeout (300 to 604800 seconds).
    public struct UpdateAgentSessionBody: Codable, Sendable {
        public var idle_timeout_seconds: Int?
        public init(idle_timeout_seconds: Int? = nil) { self.idle_timeout_seconds = idle_timeout_seconds }
    }

    /// A member's own key for a provider record: write-only, like the tenant's. `base_url` is the
    /// address the member allows it to go to; it must be the record's.
    public struct AgentUserKeyBody: Codable, Sendable {
        public var api_key: String
        public var base_url: String
        public init(api_key: String, base_url: String) {
            self.api_key = api_key
            self.base_url = base_url
        }
    }

    public struct AgentProviderView: Codable, Sendable, Equatable {
        public var name: String
        public var kind: String
        public var base_url: String
        public var has_key: Bool
        /// The caller set a key of their own for this record; their turns spend it.
        public var has_my_key: Bool
        public var extra_fields: [String: JSONValue]?
        public var updated_at: Date
        public init(name: String, kind: String, base_url: String, has_key: Bool, has_my_key: Bool = false,
                    extra_fields: [String: JSONValue]? = nil, updated_at: Date) {
            self.name = name
            self.kind = kind
            self.base_url = base_url
            self.has_key = has_key
            self.has_my_key = has_my_key
            self.extra_fields = extra_fields
            self.updated_at = updated_at
        }
    }

    public struct AgentProviderList: Codable, Sendable {
        public var providers: [AgentProviderView]
        public init(providers: [AgentProviderView]) { self.providers = providers }
    }

    public struct SystemBody: Codable, Sendable {
        public var memory_total_bytes: UInt64
        public var memory_available_bytes: UInt64
        /// Used memory as a fraction, 0...1.
        public var memory_pressure: Double
        public var load1: Double
        public var agent_sessions: Int
        /// New sessions are refused above this pressure.
        public var admission_threshold: Double
        public init(memory_total_bytes: UInt64, memory_available_bytes: UInt64, memory_pressure: Double, load1: Double, agent_sessions: Int,
                    admission_threshold: Double) {
            self.memory_total_bytes = memory_total_bytes
            self.memory_available_bytes = memory_available_bytes
            self.memory_pressure = memory_pressure
            self.load1 = load1
            self.agent_sessions = agent_sessions
            self.admission_threshold = admission_threshold
        }
    }
}

/// A session's steps, and rewind and fork to one of them (issue 18).
extension API {
    /// One step: the conversation as far as event `seq`, and the files as workspace generation
    /// `generation` holds them (absent: none could be made, and a rewind to it is refused).
    public struct AgentCheckpointBody: Codable, Sendable, Equatable {
        public var step: Int
        /// start, tool or turn.
        public var kind: String
        public var seq: Int64
        public var generation: Int64?
        public var at: Date

        public init(step: Int, kind: String, seq: Int64, generation: Int64?, at: Date) {
            self.step = step
            self.kind = kind
            self.seq = seq
            self.generation = generation
            self.at = at
        }
    }

    public struct AgentCheckpointList: Codable, Sendable {
        public var steps: [AgentCheckpointBody]
        public init(steps: [AgentCheckpointBody]) { self.steps = steps }
    }

    /// `POST /v1/agent-sessions/{id}/rewind`: the step to go back to.
    public struct AgentRewindBody: Codable, Sendable {
        public var step: Int
        public init(step: Int) { self.step = step }
    }

    /// `POST /v1/agent-sessions/{id}/fork`: the step to fork from (absent: the latest).
    public struct AgentForkBody: Codable, Sendable {
        public var step: Int?
        public init(step: Int? = nil) { self.step = step }
    }
}

extension API {
    /// `GET|PUT /v1/agent-retention`: what the caller's tenant keeps of ended sessions,
    /// `transcripts` (the default) or `metadata`.
    public struct AgentRetentionBody: Codable, Sendable, Equatable {
        public var mode: String
        public init(mode: String) { self.mode = mode }
    }
}

extension API {
    /// A tenant's own scrub rule: a value starting with `prefix` followed by `min_length` to
    /// `max_length` characters of `alphabet` (alphanumeric, hex, digits, base64, base64url) is
    /// replaced by `‹REDACTED:custom_<id>:N›` before it reaches a provider.
    public struct AgentScrubRuleBody: Codable, Sendable, Equatable {
        public var id: String
        public var prefix: String
        public var alphabet: String
        public var min_length: Int
        public var max_length: Int
        public init(id: String, prefix: String, alphabet: String, min_length: Int, max_length: Int) {
            self.id = id
            self.prefix = prefix
            self.alphabet = alphabet
            self.min_length = min_length
            self.max_length = max_length
        }
    }

    /// `GET|PUT /v1/agent-scrub-rules`: the whole set (a PUT replaces it; at most 32).
    public struct AgentScrubRuleList: Codable, Sendable, Equatable {
        public var rules: [AgentScrubRuleBody]
        public init(rules: [AgentScrubRuleBody]) { self.rules = rules }
    }
}
