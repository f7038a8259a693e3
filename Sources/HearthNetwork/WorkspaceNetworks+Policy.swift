public import HearthCore
import Foundation
import HearthRuntime
import Logging

extension WorkspaceNetworks {
    /// The policy in force for a workspace: the server's, its tenant's and its own.
    public func policy(for workspace: String) -> EffectivePolicy {
        let tenant = tenants[workspace]
        return EffectivePolicy(server: configuration.serverPolicy, tenant: tenant.flatMap { tenantPolicies[$0] } ?? LevelPolicy(),
                               workspace: workspacePolicies[workspace] ?? LevelPolicy(),
                               openAllowed: tenant.map { openTenants.contains($0) } ?? false)
    }

    /// Which tenant a workspace belongs to; set before it starts, so its first packet already
    /// follows its tenant's narrowing.
    public func assign(workspace: String, tenant: String) async throws {
        tenants[workspace] = tenant
        if attached[workspace] != nil { try await applyPolicy(workspace) }
    }

    /// The operator lets `tenant` choose `open` mode (or no longer: its workspaces fall back to deny-all at once).
    public func setOpenAllowed(_ allowed: Bool, tenant: String) async throws {
        if allowed { openTenants.insert(tenant) } else { openTenants.remove(tenant) }
        savePolicies()
        for (workspace, owner) in tenants where owner == tenant && attached[workspace] != nil { try await applyPolicy(workspace) }
    }

    public func tenantPolicy(_ tenant: String) -> LevelPolicy { tenantPolicies[tenant] ?? LevelPolicy() }

    /// A tenant admin's narrowing; applied to the tenant's running workspaces before it returns.
    public func setTenantPolicy(_ tenant: String, _ policy: LevelPolicy) async throws {
        if policy.mode == .open, !openTenants.contains(tenant) {
            throw HearthError(.forbidden, "the operator has not allowed open networking for this tenant")
        }
        tenantPolicies[tenant] = policy
        savePolicies()
        for (workspace, owner) in tenants where owner == tenant && attached[workspace] != nil { try await applyPolicy(workspace) }
    }

    /// A workspace's own request (it can only narrow); applied before it returns.
    public func setWorkspacePolicy(_ workspace: String, _ policy: LevelPolicy) async throws {
        workspacePolicies[workspace] = policy
        savePolicies()
        if attached[workspace] != nil { try await applyPolicy(workspace) }
    }

    /// Rewrites the workspace's policy chain and fixed set, and re-allows the cached answers the
    /// new policy still allows (the rest are forgotten), in one nft transaction.
    /// What decides which established connections go on: the policy, and what no policy reaches.
    func connectionJudge(_ effective: EffectivePolicy) -> ConnectionJudge {
        var judge = ConnectionJudge(effective)
        judge.refused = NFTRules.alwaysBlocked.compactMap { CIDR($0) } + [network] + rules.hostAddresses.map { CIDR(base: $0, prefix: 32) }
        judge.privateRanges = NFTRules.privateRanges.compactMap { CIDR($0) }
        judge.allowedPrivate = rules.allowedPrivate
        return judge
    }

    /// `before` goes first in the same transaction (a new workspace's chains).
    func applyPolicy(_ workspace: String, cutting: Bool = true, before: String = "") async throws {
        guard var a = attached[workspace] else { return }
        let effective = policy(for: workspace)
        var script = before + rules.policy(slot: a.slot, mode: effective.mode, networks: effective.networkGrants)
        script += rules.flushAllowed(slot: a.slot)
        let now = ContinuousClock.now
        for (name, entry) in a.cache {
            let grants = effective.grants(forName: name)
            let left = entry.expires - now
            guard !grants.isEmpty, left > .seconds(1) else { a.cache[name] = nil; continue }
            if effective.mode == .denyAll {
                script += rules.allow(slot: a.slot, entry.addresses.flatMap { address in grants.map { (address, $0) } }, seconds: UInt32(left.components.seconds))
            }
        }
        attached[workspace] = a
        try await load(script)
        // The record's fingerprint follows the policy in force (`adopt` compares them).
        saveAttachments()
        // New connections follow the new rules from here; the established ones it no longer
        // allows are cut now, not left to run (a tightening takes effect both ways at once).
        let cut = cutting ? await cutConnections(marked: a.occupancy, workspace: workspace, judge: connectionJudge(effective),
                                                 resolvedNames: a.resolvedNames) : 0
        logger.info("network policy applied", metadata: ["workspace.id": "\(workspace)", "network.mode": "\(effective.mode.rawValue)",
                                                         "network.connections_cut": "\(cut)"])
    }

    /// Recent decisions and counts for `GET /v1/workspaces/{ws}/netlog`: the resolver's own log,
    /// and the destinations the host side dropped (the workspace's `denied` set and counter).
    public func netlog(_ workspace: String) async -> NetLogSnapshot? {
        guard let a = attached[workspace] else { return nil }
        let c = rules.chains(a.slot)
        var entries = a.log.ordered
        var packets = 0
        if let out = try? await HostNet.run(["nft", "-j", "list", "counter", "inet", configuration.table, c.count]), out.succeeded {
            packets = NFTJSON.counterPackets(out.stdout) ?? 0
        }
        if let out = try? await HostNet.run(["nft", "-j", "list", "set", "inet", configuration.table, c.denied]), out.succeeded {
            for destination in NFTJSON.setElements(out.stdout).prefix(256) {
                entries.append(NetLogEntry(time: Date(), kind: .connection, allowed: false, destination: destination, rule: "no rule allows it"))
            }
        }
        return NetLogSnapshot(entries: entries, deniedNames: a.log.deniedNames, allowedNames: a.log.allowedNames, deniedPackets: packets)
    }
}

/// The few fields of `nft -j` output the netlog reads.
enum NFTJSON {
    static func counterPackets(_ json: String) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let items = object["nftables"] as? [[String: Any]] else { return nil }
        for item in items {
            if let counter = item["counter"] as? [String: Any], let packets = counter["packets"] as? Int { return packets }
        }
        return nil
    }

    /// The elements of every `denied_N` set of a listed table, by slot N.
    static func deniedBySlot(_ json: String) -> [Int: [String]] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let items = object["nftables"] as? [[String: Any]] else { return [:] }
        var out: [Int: [String]] = [:]
        for item in items {
            guard let set = item["set"] as? [String: Any], let name = set["name"] as? String, name.hasPrefix("denied_"),
                  let slot = Int(name.dropFirst("denied_".count)) else { continue }
            let one = try? JSONSerialization.data(withJSONObject: ["nftables": [item]])
            out[slot] = setElements(one.map { String(decoding: $0, as: UTF8.self) } ?? "")
        }
        return out
    }

    /// `address proto/port` for each element of a concatenated set.
    static func setElements(_ json: String) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let items = object["nftables"] as? [[String: Any]] else { return [] }
        var out: [String] = []
        for item in items {
            guard let set = item["set"] as? [String: Any], let elements = set["elem"] as? [Any] else { continue }
            for element in elements {
                var value: Any = element
                if let wrapped = element as? [String: Any], let elem = wrapped["elem"] as? [String: Any], let inner = elem["val"] { value = inner }
                guard let concat = (value as? [String: Any])?["concat"] as? [Any], concat.count == 3 else { continue }
                out.append("\(concat[0]) \(concat[1])/\(concat[2])")
            }
        }
        return out
    }
}
