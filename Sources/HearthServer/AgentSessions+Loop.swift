import AsyncHTTPClient
public import HearthAgentCore
import HearthAgents
import HearthControlPlane
import HearthCore
import HearthProviders
import HearthScrub
import Logging
import Synchronization

/// How the server's turns call the model, beyond what a session says.
public struct AgentLoopDefaults: Sendable {
    /// `auto` in production; tests against the small model force calls with `required`.
    public var toolChoice: ToolChoice = .auto
    /// Offer no tools on the final step (for servers that cannot honour `tool_choice: none`).
    public var finalStepWithoutTools = false
    public var maxTokens: Int?
    public var temperature: Double?
    public var maxStepsPerTurn = 50
    public init() {}
}

/// Composes each turn's loop: the session's provider client (OpenAI Chat Completions or Anthropic
/// Messages at the record's base URL, the key opened on the host for this turn only, never logged:
/// `ProviderKey` prints as a placeholder), the workspace tools, the guards, and the session's
/// scrubber, kept in memory across turns so replacements stay stable within the session.
final class ProviderAgentLoop: Sendable {
    /// The server's provider client, owned (and shut down at stop) by its Service.
    let http: ProviderHTTPClientService
    let defaults: AgentLoopDefaults
    let hosts: AgentProviderHostPolicy
    let logger: Logger
    /// Each session's scrubber, with the tenant rules it was built from.
    let scrubbers = Mutex<[String: (rules: [TenantScrubRule], session: ScrubSession)]>([:])
    /// Sessions whose scrubbers (and the values they replaced) are kept between turns.
    static let maxScrubbers = 1024
    /// The tenant's own scrub rules, read before each turn.
    let tenantRules: @Sendable (String) -> [TenantScrubRule]

    init(http: ProviderHTTPClientService, defaults: AgentLoopDefaults, hosts: AgentProviderHostPolicy, logger: Logger,
         tenantRules: @escaping @Sendable (String) -> [TenantScrubRule] = { _ in [] }) {
        self.http = http
        self.defaults = defaults
        self.hosts = hosts
        self.logger = logger
        self.tenantRules = tenantRules
    }

    static func factory(http: ProviderHTTPClientService, defaults: AgentLoopDefaults, hosts: AgentProviderHostPolicy, logger: Logger,
                        tenantRules: @escaping @Sendable (String) -> [TenantScrubRule] = { _ in [] }) -> AgentTurnLoopFactory {
        let composer = ProviderAgentLoop(http: http, defaults: defaults, hosts: hosts, logger: logger, tenantRules: tenantRules)
        return { session, provider, key, tools in try composer.loop(session, provider, key, tools) }
    }

    /// The session's scrubber for this turn: the one it had (so markers stay stable), unless the
    /// tenant's rules changed since, which starts a new one (its markers count from 1 again).
    func scrubber(for sessionId: String, rules: [TenantScrubRule]) -> ScrubSession {
        let kept = scrubbers.withLock { $0.removeValue(forKey: sessionId) }
        if let kept, kept.rules == rules { return kept.session }
        return ScrubSession(scrubber: AgentScrubRuleRoutes.scrubber(rules))
    }

    func loop(_ session: AgentSessionRecord, _ record: AgentProviderRecord, _ key: String, _ tools: any ToolRunner) throws -> any AgentTurnLoop {
        let http = try self.http.client()
        // The record's extra fields first, the session's over them.
        let endpoint = ProviderEndpoint(baseURL: record.baseURL, key: key.isEmpty ? nil : ProviderKey(key), extraFieldsJSON: record.extraFields)
        let provider: any ChatProvider = switch record.kind {
        case .openai: try OpenAIChatProvider(endpoint: endpoint, client: http)
        case .anthropic: try AnthropicMessagesProvider(endpoint: endpoint, client: http)
        }
        let configuration = AgentLoopConfiguration(
            model: session.model, system: session.systemPrompt.isEmpty ? nil : session.systemPrompt,
            budget: AgentBudget(maxStepsPerTurn: defaults.maxStepsPerTurn, maxTotalTokens: session.budgetTokens),
            toolChoice: defaults.toolChoice, finalStep: defaults.finalStepWithoutTools ? .withoutTools : .toolChoiceNone,
            maxTokens: defaults.maxTokens, temperature: defaults.temperature, extraFieldsJSON: session.extraFields)
        var logger = self.logger
        logger[metadataKey: "agent.session"] = "\(session.id)"
        return Turn(loop: AgentLoop(provider: provider, tools: tools, configuration: configuration, logger: logger), sessionId: session.id,
                    tenantId: session.tenantId, baseURL: record.baseURL, composer: self)
    }

    struct Turn: AgentTurnLoop {
        let loop: AgentLoop
        let sessionId: String
        let tenantId: String
        let baseURL: String
        let composer: ProviderAgentLoop

        func runTurn(history: [ChatMessage], prompt: String, usage: TokenUsage,
                     emit: @escaping @Sendable (AgentLoopEvent) async -> Void) async -> (outcome: TurnOutcome, usage: TokenUsage) {
            // Checked before every turn, not only when the provider was set: the name may resolve
            // elsewhere now, and the operator's allowed ranges may have changed.
            do {
                try await composer.hosts.check(baseURL: baseURL, unresolvedIsFine: false)
            } catch {
                let message = (error as? HearthError)?.message ?? "the provider's host may not be reached"
                await emit(.error(ProviderFailure(.invalidRequest, message)))
                await emit(.finished(.failed, steps: 0))
                return (.failed, usage)
            }
            let rules = composer.tenantRules(tenantId)
            var scrubber = composer.scrubber(for: sessionId, rules: rules)
            let result = await loop.runTurn(history: history, prompt: prompt, usage: usage, scrubber: &scrubber, emit: emit)
            composer.scrubbers.withLock { scrubbers in
                // Bounded: past it, another session's scrubber is dropped (its markers start again
                // from 1 at its next turn), and the values it held leave memory.
                if scrubbers.count >= ProviderAgentLoop.maxScrubbers, let other = scrubbers.keys.first { scrubbers[other] = nil }
                scrubbers[sessionId] = (rules, scrubber)
            }
            return (result.outcome, result.usage)
        }
    }
}
