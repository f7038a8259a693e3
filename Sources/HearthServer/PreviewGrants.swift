import Foundation
import HearthIdentity
import Synchronization

/// Capabilities for previews: each lets the requests of one previewed page through to one port of
/// one workspace, with the role of the user who opened it, for 12 hours. Kept in memory: after a
/// server restart the user opens the preview again from the IDE.
final class PreviewGrants: Sendable {
    struct Grant: Sendable {
        var workspaceID: String
        /// The workspace as the URL names it (id or name).
        var reference: String
        var port: UInt16
        var tenant: String
        var actor: String
        var role: Role
        var expires: Date = Date().addingTimeInterval(PreviewGrants.lifetime)
    }

    static let lifetime: TimeInterval = 12 * 3600
    static let maxGrants = 10_000
    private let grants = Mutex<[String: Grant]>([:])

    func issue(_ grant: Grant) -> String {
        var generator = SystemRandomNumberGenerator()
        let key = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        grants.withLock { all in
            let now = Date()
            if all.count >= Self.maxGrants { all = all.filter { $0.value.expires > now } }
            if all.count >= Self.maxGrants, let oldest = all.min(by: { $0.value.expires < $1.value.expires })?.key { all[oldest] = nil }
            all[key] = grant
        }
        return key
    }

    func grant(_ key: String, now: Date = Date()) -> Grant? {
        guard key.count == 32 else { return nil }
        return grants.withLock { all in
            guard let grant = all[key] else { return nil }
            guard grant.expires > now else {
                all[key] = nil
                return nil
            }
            return grant
        }
    }
}
