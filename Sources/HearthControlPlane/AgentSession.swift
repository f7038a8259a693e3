public import Foundation
public import GRDB

/// An agent session: a conversation attached to one workspace, run on the host. Domain record only.
public struct AgentSessionRecord: Codable, Sendable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "agentSession"

    public enum State: String, Codable, Sendable {
        /// Waiting for a message.
        case idle
        /// A turn is running.
        case busy
        /// Ended (idle timeout or deleted); keeps its transcript.
        case ended
    }

    /// What an idle timeout does to the session's workspace.
    public enum OnIdle: String, Codable, Sendable, CaseIterable {
        case pause
        case delete
    }

    public var id: String
    public var tenantId: String
    public var userId: String
    /// The name of the tenant's provider record (never the key).
    public var provider: String
    public var model: String
    public var workspaceId: String
    public var systemPrompt: String
    public var idleTimeoutSeconds: Int
    public var onIdle: OnIdle
    /// Total tokens (input + output) the session may spend; nil is unlimited.
    public var budgetTokens: Int?
    public var tokensUsed: Int
    public var state: State
    public var endReason: String?
    public var createdAt: Date
    public var lastActivityAt: Date
    /// A JSON object merged into every provider request of the session (checked by the API layer).
    public var extraFields: String? = nil
    /// When the session's content (messages, tool inputs and outputs, its history and system
    /// prompt) was purged under its tenant's retention; its metadata and events' shape remain.
    public var contentPurgedAt: Date? = nil
    /// The member who sent the message of the running (or last) turn: the turn spends their own
    /// provider key when they set one, the tenant's otherwise. Nil before the first message.
    public var turnUserId: String? = nil

    public static let defaultIdleTimeout = 72 * 3600
    public static let idleTimeoutRange = (5 * 60)...(7 * 24 * 3600)

    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<2).map { _ in String(generator.next() as UInt64, radix: 16) }.map { String(repeating: "0", count: 16 - $0.count) + $0 }
        return "as_" + hex.joined()
    }
}

/// The kinds of stored event. The names are the wire names of the SSE `event:` field.
public enum AgentEventType: String, Codable, Sendable, CaseIterable {
    case message
    case toolCall = "tool_call"
    case toolResult = "tool_result"
    case thinking
    case status
    case agentBusy = "agent_busy"
    case agentIdle = "agent_idle"
    case exit
    case errorEvent = "error_event"
    case usage
    case scrub
    /// A step the session can be rewound or forked to: its number, and the workspace generation
    /// that holds its files.
    case checkpoint
    /// The session went back to a step: every event after that step's `checkpoint` event and
    /// before this one is no longer part of the conversation (the log itself is append-only).
    case rewind
}

/// One stored event. `seq` is assigned by the store when the event is written, from 1 upwards
/// per session, with no gaps; it is the SSE `id:`.
public struct AgentEvent: Codable, Sendable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "agentEvent"
    public var sessionId: String
    public var seq: Int64
    public var type: AgentEventType
    /// A JSON object, at most `AgentEvent.maxDataBytes`.
    public var data: String
    public var at: Date

    /// An event bigger than this is stored truncated (tool outputs are truncated well before).
    public static let maxDataBytes = 512 * 1024
}

/// A step of a session that rewind and fork go back to: the conversation as far as its
/// `checkpoint` event (`seq`) and its first `historyCount` provider-facing messages, and the
/// workspace's files as generation `generation` holds them.
public struct AgentCheckpoint: Codable, Sendable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "agentCheckpoint"

    public enum Kind: String, Codable, Sendable {
        /// Before the session's first turn.
        case start
        /// After a step's tool results.
        case tool
        /// After a turn that completed.
        case turn
    }

    public var sessionId: String
    /// 0 for `start`, then 1, 2, … in order. A rewind to step N forgets the steps after it, and
    /// the next step is N + 1 again.
    public var step: Int
    public var kind: Kind
    /// The `checkpoint` event: events up to it are the conversation at this step.
    public var seq: Int64
    /// How many provider-facing history messages the conversation had at this step.
    public var historyCount: Int
    /// The workspace generation holding the files at this step; nil when none could be committed
    /// (a server without a store, or a commit that failed), and in a fork for steps before the one
    /// it was forked at (those files are in the source's workspace).
    public var generation: Int64?
    public var at: Date

    public init(sessionId: String, step: Int, kind: Kind, seq: Int64, historyCount: Int, generation: Int64?, at: Date) {
        self.sessionId = sessionId
        self.step = step
        self.kind = kind
        self.seq = seq
        self.historyCount = historyCount
        self.generation = generation
        self.at = at
    }
}

/// A per-tenant provider configuration. The key is stored only sealed (`AgentKeySealer`).
public struct AgentProviderRecord: Codable, Sendable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "agentProvider"
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case openai
        case anthropic
    }
    public var tenantId: String
    public var name: String
    public var kind: Kind
    public var baseURL: String
    /// The sealed key (nonce + ciphertext + tag), never the key itself.
    public var sealedKey: Data
    public var updatedAt: Date
    /// A JSON object merged into every request to this provider, under each session's own extra
    /// fields (checked by the API layer).
    public var extraFields: String? = nil

    public init(tenantId: String, name: String, kind: Kind, baseURL: String, sealedKey: Data, updatedAt: Date, extraFields: String? = nil) {
        self.tenantId = tenantId
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.sealedKey = sealedKey
        self.updatedAt = updatedAt
        self.extraFields = extraFields
    }
}

/// A member's own key for one of the tenant's provider records. It is sent only to the base URL
/// it was set for: a later change of the record's address by an admin does not carry it along.
public struct AgentUserKeyRecord: Codable, Sendable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "agentUserKey"
    public var tenantId: String
    public var userId: String
    public var provider: String
    public var baseURL: String
    /// Sealed with the member's id bound in (`AgentKeySealer.seal(_:tenantId:userId:)`).
    public var sealedKey: Data
    public var updatedAt: Date

    public init(tenantId: String, userId: String, provider: String, baseURL: String, sealedKey: Data, updatedAt: Date) {
        self.tenantId = tenantId
        self.userId = userId
        self.provider = provider
        self.baseURL = baseURL
        self.sealedKey = sealedKey
        self.updatedAt = updatedAt
    }
}

/// Seals and opens provider keys. The control plane stores only what `seal` returns.
public protocol AgentKeySealer: Sendable {
    /// `userId` binds a member's own key to them: sealed for one member, it does not open for another.
    func seal(_ key: String, tenantId: String, userId: String?) throws -> Data
    func unseal(_ sealed: Data, tenantId: String, userId: String?) throws -> String
}

extension AgentKeySealer {
    /// The tenant's key of a provider record.
    public func seal(_ key: String, tenantId: String) throws -> Data { try seal(key, tenantId: tenantId, userId: nil) }
    public func unseal(_ sealed: Data, tenantId: String) throws -> String { try unseal(sealed, tenantId: tenantId, userId: nil) }
}

/// Time, injectable so tests move it.
public protocol AgentClock: Sendable {
    func now() -> Date
}

public struct SystemAgentClock: AgentClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// What a tenant keeps of an agent session once it has ended.
public enum AgentRetention: String, Codable, Sendable, CaseIterable {
    /// The whole transcript (the default).
    case transcripts
    /// Only metadata (the session, its events' kinds, times, tool names and outcomes) and the
    /// audit log: content is purged by the runner's next sweep, within a minute of the end.
    case metadata
}
