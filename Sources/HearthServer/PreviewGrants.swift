import Foundation
import HearthCore
import HearthIdentity
import Synchronization

/// Capabilities for previews: each lets the requests of one previewed page through to one port of
/// one workspace, with the role of the user who opened it, for at most 12 hours. Kept in memory:
/// after a server restart the user opens the preview again from the IDE.
///
/// A grant is bound to the credential that opened it (the API token or the browser session): it
/// is honoured only while that credential is, so revoking the token or signing out ends every
/// preview it opened. Each credential holds at most `maxPerCredential` grants (its own oldest is
/// dropped), so no tenant can evict another's; past `maxGrants` in all, new grants are refused.
final class PreviewGrants: Sendable {
    /// The credential a grant stands on, without its secret.
    enum Credential: Hashable, Sendable {
        case token(id: String)
        case session(id: String)

        init(_ credential: Principal.Credential) {
            switch credential {
            case .token(let id): self = .token(id: id)
            case .session(let id, _): self = .session(id: id)
            }
        }
    }

    struct Grant: Sendable {
        var workspaceID: String
        /// The workspace as the URL names it (id or name).
        var reference: String
        var port: UInt16
        var tenant: String
        var actor: String
        var role: Role
        var credential: Credential
        var expires: Date = Date().addingTimeInterval(PreviewGrants.lifetime)
    }

    static let lifetime: TimeInterval = 12 * 3600
    static let maxGrants = 100_000
    static let maxPerCredential = 64

    private struct State {
        var grants: [String: Grant] = [:]
        /// Each credential's keys, oldest first (at most `maxPerCredential`).
        var byCredential: [Credential: [String]] = [:]

        mutating func remove(_ key: String) {
            guard let grant = grants.removeValue(forKey: key) else { return }
            byCredential[grant.credential]?.removeAll { $0 == key }
            if byCredential[grant.credential]?.isEmpty == true { byCredential[grant.credential] = nil }
        }
    }

    private let state = Mutex(State())

    func issue(_ grant: Grant, now: Date = Date()) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let key = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        try state.withLock { state in
            // A credential's own oldest grants make room for its new one; nobody else's do.
            while let mine = state.byCredential[grant.credential], mine.count >= Self.maxPerCredential, let oldest = mine.first {
                state.remove(oldest)
            }
            if state.grants.count >= Self.maxGrants {
                for (key, old) in state.grants where old.expires <= now { state.remove(key) }
            }
            guard state.grants.count < Self.maxGrants else {
                throw HearthError(.rateLimited, "too many previews are open; try again later", detail: "preview grant table full")
            }
            state.grants[key] = grant
            state.byCredential[grant.credential, default: []].append(key)
        }
        return key
    }

    /// The grant `key` names, if it has not expired and its credential is still honoured
    /// (`isLive`: not revoked, expired or signed out).
    func grant(_ key: String, now: Date = Date(), isLive: (Credential) -> Bool) -> Grant? {
        guard key.count == 32 else { return nil }
        let found: Grant? = state.withLock { state in
            guard let grant = state.grants[key] else { return nil }
            guard grant.expires > now else {
                state.remove(key)
                return nil
            }
            return grant
        }
        guard let found else { return nil }
        // Checked outside the lock: it reads the identity database.
        guard isLive(found.credential) else {
            end(found.credential)
            return nil
        }
        return found
    }

    /// Drops every grant `credential` opened (it was revoked or signed out).
    func end(_ credential: Credential) {
        state.withLock { state in
            for key in state.byCredential[credential] ?? [] { state.grants[key] = nil }
            state.byCredential[credential] = nil
        }
    }
}

extension PreviewGrants.Credential {
    /// Whether the identity store still honours this credential.
    func isLive(in identity: IdentityStore) -> Bool {
        switch self {
        case .token(let id): identity.isTokenLive(id: id)
        case .session(let id): identity.isSessionLive(id: id)
        }
    }
}
