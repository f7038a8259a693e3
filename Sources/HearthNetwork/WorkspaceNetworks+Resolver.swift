import Foundation
import Logging
import Metrics
import HearthRuntime
import NIOCore

extension WorkspaceNetworks {
    /// Answers one question from a workspace. Names no rule allows get NXDOMAIN and never leave
    /// the host (so a TXT or long-label query to such a name tunnels nothing); malformed queries
    /// and labels outside `[a-z0-9_-]` get REFUSED; allowed names are resolved upstream for A
    /// records only, and each address is added to the workspace's allow-set for the answer's TTL
    /// (clamped) before the answer is sent, so the connection that follows is already allowed.
    func answer(_ request: DNSRequest) async {
        guard attached[request.workspace] != nil else { return }
        let query: DNSMessage.Query
        do {
            query = try DNSMessage.parseQuery(request.bytes)
        } catch {
            record(request.workspace, NetLogEntry(time: Date(), kind: .dns, allowed: false, destination: "(malformed query)", rule: error.reason))
            return
        }
        let name = query.question.name
        let shown = String(name.prefix(120))
        guard query.question.qclass == 1, NetworkRule.isValidName(Substring(name)),
              query.question.labels.count == name.split(separator: ".", omittingEmptySubsequences: false).count else {
            reply(request, DNSMessage.reply(to: query, rcode: DNSMessage.refused))
            record(request.workspace, NetLogEntry(time: Date(), kind: .dns, allowed: false, destination: shown, rule: "not a valid host name"))
            return
        }
        let effective = policy(for: request.workspace)
        let grants = effective.grants(forName: name)
        guard !grants.isEmpty else {
            reply(request, DNSMessage.reply(to: query, rcode: DNSMessage.nxDomain))
            record(request.workspace, NetLogEntry(time: Date(), kind: .dns, allowed: false, destination: shown, rule: "no rule allows this name"))
            return
        }
        let because = grants.first.map { $0.because.joined(separator: ", ") } ?? ""
        guard query.question.type == DNSMessage.typeA else {
            // Allowed names get no other record types: no AAAA (no IPv6), no TXT payloads.
            reply(request, DNSMessage.reply(to: query, rcode: DNSMessage.noError))
            return
        }
        let now = ContinuousClock.now
        if let cached = attached[request.workspace]?.cache[name], cached.expires - now > .seconds(1) {
            let ttl = UInt32(clamping: (cached.expires - now).components.seconds)
            reply(request, DNSMessage.reply(to: query, rcode: DNSMessage.noError, addresses: cached.addresses.map { ($0, ttl) }))
            record(request.workspace, NetLogEntry(time: Date(), kind: .dns, allowed: true, destination: shown, rule: because))
            return
        }
        guard let bytes = await upstream.ask(name: name), let answer = try? DNSMessage.parseAnswer(bytes),
              answer.question.name == name else {
            reply(request, DNSMessage.reply(to: query, rcode: DNSMessage.servFail))
            return
        }
        guard answer.rcode == DNSMessage.noError else {
            reply(request, DNSMessage.reply(to: query, rcode: answer.rcode == DNSMessage.nxDomain ? DNSMessage.nxDomain : DNSMessage.servFail))
            return
        }
        let addresses = Array(answer.addresses.prefix(16))
        let ttl = min(max(addresses.map(\.1).min() ?? configuration.minimumTTL, configuration.minimumTTL), configuration.maximumTTL)
        // The policy may have changed while the upstream answered; decide again.
        let current = policy(for: request.workspace).grants(forName: name)
        guard var a = attached[request.workspace], !current.isEmpty else {
            reply(request, DNSMessage.reply(to: query, rcode: DNSMessage.nxDomain))
            return
        }
        if !addresses.isEmpty {
            if policy(for: request.workspace).mode == .denyAll {
                let entries = addresses.flatMap { address in current.map { (address.0, $0) } }
                do {
                    try await load(rules.allow(slot: a.slot, entries, seconds: ttl))
                } catch {
                    logger.warning("resolved addresses could not be allowed", metadata: ["workspace.id": "\(request.workspace)", "error": "\(error)"])
                    reply(request, DNSMessage.reply(to: query, rcode: DNSMessage.servFail))
                    return
                }
            }
            guard attached[request.workspace] != nil else { return }
            a = attached[request.workspace]!
            if a.cache.count >= 1024 { a.cache.removeAll() }
            a.cache[name] = (addresses.map(\.0), ContinuousClock.now + .seconds(Int64(ttl)))
            noteResolved(name, to: addresses.map(\.0), in: &a)
            attached[request.workspace] = a
        }
        reply(request, DNSMessage.reply(to: query, rcode: DNSMessage.noError, addresses: addresses.map { ($0.0, ttl) }))
        record(request.workspace, NetLogEntry(time: Date(), kind: .dns, allowed: true,
                                              destination: "\(shown) → \(addresses.map { "\($0.0)" }.joined(separator: ","))", rule: because))
    }

    nonisolated func reply(_ request: DNSRequest, _ bytes: [UInt8]) {
        DNSChannels.reply(bytes, to: request)
    }

    /// Logs a decision; a denial also goes to the audit sink, sampled.
    func record(_ workspace: String, _ entry: NetLogEntry) {
        attached[workspace]?.log.record(entry)
        guard !entry.allowed else { return }
        sample(workspace, entry)
    }

    /// Counts a denial and hands it to the audit sink through the sampler (`DenialAuditSampler`).
    /// Each one is logged at debug only: the netlog and the metric have them all.
    func sample(_ workspace: String, _ entry: NetLogEntry) {
        Counter(label: "hearth_network_denied_total", dimensions: [("kind", entry.kind.rawValue)]).increment()
        logger.debug("network denial", metadata: ["workspace.id": "\(workspace)", "network.destination": "\(entry.destination)",
                                                  "network.rule": "\(entry.rule)"])
        for record in denialAudit.offer(workspace, tenant: tenants[workspace], entry, now: .now) { onDenial?(record) }
    }

    /// Ends a sampling interval that is over, so summaries are written even when denials stop.
    func flushDenialAudit() {
        for record in denialAudit.flush(now: .now) { onDenial?(record) }
    }
}

extension WorkspaceNetworks {
    /// Every 2 s, reads the host side's denied-destination sets (one `nft` call for all
    /// workspaces) and samples destinations not seen before into the metrics and the audit log.
    func watchDenials() async throws {
        var seen: [String: Set<String>] = [:]
        while true {
            try await Task.sleep(for: .seconds(2))
            flushDenialAudit()
            guard !attached.isEmpty,
                  let out = try? await HostNet.run(["nft", "-j", "list", "table", "inet", configuration.table]), out.succeeded else { continue }
            let bySlot = NFTJSON.deniedBySlot(out.stdout)
            for (id, a) in attached {
                let now = Set(bySlot[a.slot] ?? [])
                for destination in now.subtracting(seen[id] ?? []).sorted().prefix(16) {
                    sample(id, NetLogEntry(time: Date(), kind: .connection, allowed: false, destination: destination, rule: "no rule allows it"))
                }
                seen[id] = now
            }
            seen = seen.filter { attached[$0.key] != nil }
        }
    }
}
