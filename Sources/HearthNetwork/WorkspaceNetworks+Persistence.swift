import Foundation
import Logging

/// Tenant and workspace policies and the operator's open list survive a restart: one JSON file in
/// the host-owned network directory, rewritten atomically on every change. Rules are stored as
/// their text and parsed again on load (a rule that no longer parses is dropped and logged).
extension WorkspaceNetworks {
    struct Stored: Codable {
        struct Level: Codable {
            var mode: String?
            var rules: [String]?
        }
        var tenants: [String: Level] = [:]
        var workspaces: [String: Level] = [:]
        var openTenants: [String] = []
    }

    var policyFile: String { configuration.stateDirectory + "/policies.json" }

    func savePolicies() {
        func level(_ p: LevelPolicy) -> Stored.Level { Stored.Level(mode: p.mode?.rawValue, rules: p.rules?.map(\.description)) }
        let stored = Stored(tenants: tenantPolicies.mapValues(level), workspaces: workspacePolicies.mapValues(level),
                            openTenants: openTenants.subtracting(configuration.openTenants).sorted())
        do {
            try JSONEncoder().encode(stored).write(to: URL(fileURLWithPath: policyFile), options: .atomic)
        } catch {
            logger.error("network policies not saved", metadata: ["error": "\(error)"])
        }
    }

    func loadPolicies() {
        guard let data = FileManager.default.contents(atPath: policyFile), data.count <= 16 << 20,
              let stored = try? JSONDecoder().decode(Stored.self, from: data) else { return }
        func level(_ s: Stored.Level) -> LevelPolicy? {
            do { return try LevelPolicy(mode: s.mode, rules: s.rules) } catch {
                logger.warning("stored network policy dropped", metadata: ["error": "\(error)"])
                return nil
            }
        }
        tenantPolicies = stored.tenants.compactMapValues(level)
        workspacePolicies = stored.workspaces.compactMapValues(level)
        openTenants.formUnion(stored.openTenants)
    }
}
