import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthIdentity
import Hummingbird

/// `/v1/agent-providers/{name}`: a tenant admin sets the tenant's provider records (kind,
/// base URL, key, extra request fields), and each member may set a key of their own for a record
/// (`…/my-key`). Keys are sealed before they are stored and are never returned, logged or audited.
struct AgentProviderRoutes {
    let store: AgentSessionStore
    let keys: any AgentKeySealer
    let auditor: Auditor
    let hosts: AgentProviderHostPolicy

    func register(on group: RouterGroup<HearthContext>) {
        let (store, keys, auditor, hosts) = (self.store, self.keys, self.auditor, self.hosts)
        group.put("agent-providers/:name") { request, context in
            let admin = try context.admin()
            let name = try context.parameters.require("name")
            let body = try await request.decode(as: API.AgentProviderBody.self, context: context)
            let record = try await auditor.around(context, "agent_provider.set", target: name, detail: body.kind + " " + body.base_url) {
                guard Self.isValidName(name) else { throw HearthError(.invalidArgument, "a provider name is 1-63 lowercase letters, digits and dashes") }
                guard let kind = AgentProviderRecord.Kind(rawValue: body.kind) else { throw HearthError(.invalidArgument, "kind is openai or anthropic") }
                guard Self.isValidBaseURL(body.base_url) else { throw HearthError(.invalidArgument, "base_url must be an http or https URL of at most 2048 bytes") }
                try await hosts.check(baseURL: body.base_url, unresolvedIsFine: true)
                let extras = try AgentSessionRoutes.extraFields(body.extra_fields, scrubber: AgentScrubRuleRoutes.scrubber(store, tenantId: admin.tenantId))
                let existing = try store.provider(tenantId: admin.tenantId, name: name)
                let sealed: Data
                if let key = body.api_key {
                    guard key.isEmpty || Self.isValidKey(key) else { throw HearthError(.invalidArgument, Self.keyRule) }
                    sealed = try keys.seal(key, tenantId: admin.tenantId)
                } else if let existing {
                    // The stored key goes only where it went before: another admin moving the base
                    // URL to a host of their own must not carry the write-only key there.
                    guard existing.baseURL == body.base_url else {
                        throw HearthError(.invalidArgument, "give api_key again when base_url changes: the stored key is not sent to a new address")
                    }
                    sealed = existing.sealedKey
                } else {
                    sealed = try keys.seal("", tenantId: admin.tenantId)
                }
                let record = AgentProviderRecord(tenantId: admin.tenantId, name: name, kind: kind, baseURL: body.base_url, sealedKey: sealed,
                                                 updatedAt: Date(), extraFields: extras)
                try store.upsert(record)
                return record
            }
            let mine = try store.userKeyProviders(tenantId: admin.tenantId, userId: admin.userId)
            return try json(Self.view(record, keys: keys, hasMyKey: mine.contains(record.name)))
        }
        group.get("agent-providers") { _, context in
            let caller = try context.caller()
            let mine = try store.userKeyProviders(tenantId: caller.tenantId, userId: caller.userId)
            return try json(API.AgentProviderList(providers: try store.providers(tenantId: caller.tenantId).map {
                Self.view($0, keys: keys, hasMyKey: mine.contains($0.name))
            }))
        }
        // A member's own key: their turns on sessions of this provider spend it instead of the
        // tenant's. Viewers run no turns, so they set none.
        // The member names the address their key may go to: set while an admin has moved the
        // record to a host of their own, it is refused (409), not bound to that host.
        group.put("agent-providers/:name/my-key") { request, context in
            let writer = try context.writer()
            let name = try context.parameters.require("name")
            let body = try await request.decode(as: API.AgentUserKeyBody.self, context: context)
            let record = try await auditor.around(context, "agent_provider.own_key.set", target: name) {
                guard Self.isValidKey(body.api_key) else { throw HearthError(.invalidArgument, Self.keyRule) }
                let sealed = try keys.seal(body.api_key, tenantId: writer.tenantId, userId: writer.userId)
                let key = AgentUserKeyRecord(tenantId: writer.tenantId, userId: writer.userId, provider: name, baseURL: body.base_url,
                                             sealedKey: sealed, updatedAt: Date())
                return try store.setUserKey(key)
            }
            return try json(Self.view(record, keys: keys, hasMyKey: true))
        }
        group.delete("agent-providers/:name/my-key") { _, context in
            let writer = try context.writer()
            let name = try context.parameters.require("name")
            try await auditor.around(context, "agent_provider.own_key.delete", target: name) {
                guard try store.deleteUserKey(tenantId: writer.tenantId, userId: writer.userId, provider: name) else {
                    throw HearthError(.notFound, "you have no key of your own for \(name.prefix(64))")
                }
            }
            return Response(status: .noContent)
        }
        group.delete("agent-providers/:name") { _, context in
            let admin = try context.admin()
            let name = try context.parameters.require("name")
            try await auditor.around(context, "agent_provider.delete", target: name) {
                guard try store.deleteProvider(tenantId: admin.tenantId, name: name) else { throw HearthError(.notFound, "no provider \(name.prefix(64))") }
            }
            return Response(status: .noContent)
        }
    }

    static func view(_ record: AgentProviderRecord, keys: any AgentKeySealer, hasMyKey: Bool) -> API.AgentProviderView {
        let hasKey = ((try? keys.unseal(record.sealedKey, tenantId: record.tenantId)) ?? "").isEmpty == false
        return API.AgentProviderView(name: record.name, kind: record.kind.rawValue, base_url: record.baseURL, has_key: hasKey, has_my_key: hasMyKey,
                                     extra_fields: AgentSessionRoutes.extraFields(record.extraFields), updated_at: record.updatedAt)
    }

    /// A provider key is 1 to 4096 visible ASCII characters: no space or control character, which
    /// no provider's keys have and which would otherwise reach a header (and an error's log line).
    static func isValidKey(_ key: String) -> Bool {
        (1...4096).contains(key.utf8.count) && key.utf8.allSatisfy { (0x21...0x7e).contains($0) }
    }
    static let keyRule = "api_key is 1 to 4096 visible ASCII characters (no spaces or line breaks)"

    static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.utf8.count) && name.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d }
    }

    static func isValidBaseURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else { return false }
        return url.user == nil && url.password == nil
    }
}
