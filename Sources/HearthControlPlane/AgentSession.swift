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

    public init(tenantId: String, name: String, kind: Kind, baseURL: String, sealedKey: Data, updatedAt: Date) {
        self.tenantId = tenantId
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.sealedKey = sealedKey
        self.updatedAt = updatedAt
    }
}

/// Seals and opens provider keys. The control plane stores only what `seal` returns.
public protocol AgentKeySealer: Sendable {
    func seal(_ key: String, tenantId: String) throws -> Data
    func unseal(_ sealed: Data, tenantId: String) throws -> String
}

/// Time, injectable so tests move it.
public protocol AgentClock: Sendable {
    func now() -> Date
}

public struct SystemAgentClock: AgentClock {
    public init() {}
    public func now() -> Date { Date() }
}
