import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthIdentity
import HearthScrub
import Hummingbird

/// `/v1/agent-scrub-rules`: a tenant admin's own scrub rules, added to the standard pack in every
/// scrub of the tenant's sessions (prompts, tool inputs and outputs) from their next turn on.
struct AgentScrubRuleRoutes {
    let store: AgentSessionStore
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        let (store, auditor) = (self.store, self.auditor)
        group.get("agent-scrub-rules") { _, context in
            try json(API.AgentScrubRuleList(rules: Self.stored(store, tenantId: try context.caller().tenantId)))
        }
        group.put("agent-scrub-rules") { request, context in
            let admin = try context.admin()
            let body = try await request.decode(as: API.AgentScrubRuleList.self, context: context)
            let rules = try Self.parse(body.rules)
            guard Set(rules.map(\.id)).count == rules.count else { throw HearthError(.invalidArgument, "scrub rule ids must be different") }
            let text = String(decoding: try API.encoder().encode(body.rules), as: UTF8.self)
            try await auditor.around(context, "agent_scrub_rules.set", target: "\(rules.count) rules") {
                try store.setScrubRules(text, tenantId: admin.tenantId, at: Date())
            }
            return try json(API.AgentScrubRuleList(rules: body.rules))
        }
    }

    /// Each rule through `TenantScrubRule`'s own checks, and the set through `Scrubber`'s bound.
    static func parse(_ bodies: [API.AgentScrubRuleBody]) throws -> [TenantScrubRule] {
        guard bodies.count <= TenantScrubRule.maxRules else {
            throw HearthError(.invalidArgument, "at most \(TenantScrubRule.maxRules) scrub rules per tenant")
        }
        return try bodies.map { body in
            guard let alphabet = TenantScrubRule.Alphabet(rawValue: body.alphabet) else {
                throw HearthError(.invalidArgument, "alphabet is alphanumeric, hex, digits, base64 or base64url")
            }
            return try TenantScrubRule(id: body.id, prefix: body.prefix, alphabet: alphabet, minLength: body.min_length, maxLength: body.max_length)
        }
    }

    static func stored(_ store: AgentSessionStore, tenantId: String) throws -> [API.AgentScrubRuleBody] {
        guard let text = try store.scrubRules(tenantId: tenantId) else { return [] }
        return (try? API.decoder().decode([API.AgentScrubRuleBody].self, from: Data(text.utf8))) ?? []
    }

    /// The tenant's rules as the loop uses them; a stored set that no longer passes the checks is
    /// dropped whole (and logged by the caller), never half-applied.
    static func rules(_ store: AgentSessionStore, tenantId: String) throws -> [TenantScrubRule] {
        try parse(try stored(store, tenantId: tenantId))
    }

    /// The standard pack with these rules; the standard pack alone for a set past `Scrubber`'s
    /// bound (which `parse` refuses first).
    static func scrubber(_ rules: [TenantScrubRule]) -> Scrubber { (try? Scrubber(tenantRules: rules)) ?? .standard }

    /// The tenant's scrubber for a check or an export; its rules unreadable, the standard pack.
    static func scrubber(_ store: AgentSessionStore, tenantId: String) -> Scrubber {
        scrubber((try? rules(store, tenantId: tenantId)) ?? [])
    }
}
