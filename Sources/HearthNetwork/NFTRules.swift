/// The nftables text Hearth loads (`nft -f`), generated here without I/O so it can be read and
/// tested. DNS between a workspace and its own resolver is not tracked (`dns_untracked_*`): a
/// workspace opening and closing connections or cycling source ports to port 53 would otherwise
/// leave a tracked entry each (a closed TCP one lives two minutes), and fill the host's table,
/// which every tenant and the host itself share. DNS is let in only to a socket bound to the
/// gateway itself (`socket wildcard 0`: a question or a connection's first segment; the rest of
/// a connection follows its first), never to one on the wildcard address such as another resolver
/// of the host's, when no server of ours listens. One `inet` table per server; every workspace has its own chains and sets named by its
/// slot, reached through one verdict map keyed by the host end of its veth.
///
/// Why nftables on the host side: the workspace's packets leave its sandbox through the veth, so
/// rules there hold whatever runs inside (root in the guest, a compromised netstack); sets with
/// timeouts take resolver answers in one transaction, a table is removed whole, and Debian ships it.
struct NFTRules {
    var table: String
    /// Host veths start with this (the server's prefix).
    var interfacePrefix: String
    var uplink: String
    var network: CIDR
    var hostAddresses: [IPv4]
    var allowedPrivate: [CIDR]
    var connectionLimit: Int?

    /// Link-local (cloud metadata), loopback, "this network", multicast and reserved: never reachable.
    static let alwaysBlocked = ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4"]
    /// Private and shared ranges: blocked unless the operator names them.
    static let privateRanges = ["10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "198.18.0.0/15"]

    /// The table from scratch (an earlier run's is replaced).
    func base() -> String {
        let blocked = Self.alwaysBlocked + [network.description] + hostAddresses.map { "\($0)/32" }
        let priv = allowedPrivate.isEmpty ? "" : " elements = { \(allowedPrivate.map(\.description).joined(separator: ", ")) };"
        return """
        table inet \(table) {}
        delete table inet \(table)
        table inet \(table) {
          set blocked { type ipv4_addr; flags interval; auto-merge; elements = { \(blocked.joined(separator: ", ")) }; }
          set private { type ipv4_addr; flags interval; elements = { \(Self.privateRanges.joined(separator: ", ")) }; }
          set private_ok { type ipv4_addr; flags interval;\(priv) }
          set dns_ok { type ifname . ipv4_addr; }
          set occupants { type ipv4_addr . mark; }
          map workspaces { type ifname : verdict; }
          chain dns_untracked_in {
            type filter hook prerouting priority raw; policy accept;
            meta nfproto ipv4 iifname . ip daddr @dns_ok meta l4proto { tcp, udp } th dport 53 fib daddr type local notrack
          }
          chain dns_untracked_out {
            type filter hook output priority raw; policy accept;
            meta nfproto ipv4 oifname . ip saddr @dns_ok meta l4proto { tcp, udp } th sport 53 notrack
          }
          chain input {
            type filter hook input priority filter; policy accept;
            iifname "\(interfacePrefix)*" jump from_workspace
          }
          chain from_workspace {
            ct state established,related accept
            meta nfproto ipv4 iifname . ip daddr @dns_ok udp dport 53 socket wildcard 0 accept
            meta nfproto ipv4 iifname . ip daddr @dns_ok tcp dport 53 tcp flags & (syn | ack) == syn socket wildcard 0 accept
            meta nfproto ipv4 iifname . ip daddr @dns_ok tcp dport 53 tcp flags & (syn | ack) != syn accept
            counter drop
          }
          chain forward {
            type filter hook forward priority filter; policy accept;
            oifname "\(interfacePrefix)*" ct state established,related ip daddr . ct mark @occupants accept
            oifname "\(interfacePrefix)*" counter drop
            iifname vmap @workspaces
            iifname "\(interfacePrefix)*" counter drop
          }
          chain postrouting {
            type nat hook postrouting priority srcnat; policy accept;
            ip saddr \(network) oifname "\(uplink)" masquerade
          }
        }

        """
    }

    func chains(_ slot: Int) -> (ws: String, policy: String, deny: String, allow: String, fixed: String, denied: String, count: String) {
        ("ws_\(slot)", "policy_\(slot)", "deny_\(slot)", "allow_\(slot)", "fixed_\(slot)", "denied_\(slot)", "denied_count_\(slot)")
    }

    /// A workspace's chains and sets, and its entry in the map. Its policy chain starts with a
    /// deny: every step into it is a `goto`, so an empty one would end at the forward chain's
    /// policy, accept (`policy` replaces it, in the same transaction where it can).
    ///
    /// Established flows of other protocols than TCP and UDP (ICMP echo, which only `open` mode
    /// lets start) also go through the policy chain on every outbound packet, and a change to
    /// `deny-all` deletes them (`cutConnections`), so their inbound packets stop too.
    ///
    /// `occupancy` marks every connection this workspace opens (`ct mark`), and only connections
    /// with its address and its mark pass as established, both ways: an address is reused once its
    /// workspace is gone, and the connections tracked for the workspace before it (a UDP flow to a
    /// server the new one may not reach, an attacker's server still sending) must not pass as the new
    /// workspace's. `WorkspaceNetworks` also deletes them on detach (`cutConnections`).
    func attach(slot: Int, hostInterface: String, gateway: IPv4, guest: IPv4, occupancy: UInt32) -> String {
        let c = chains(slot)
        let cap = connectionLimit.map { "add rule inet \(table) \(c.ws) ct state new add @conn_\(slot) { ip saddr ct count over \($0) } goto \(c.deny)" } ?? ""
        return """
        add counter inet \(table) \(c.count)
        add set inet \(table) \(c.allow) { type ipv4_addr . inet_proto . inet_service; flags interval,timeout; }
        add set inet \(table) \(c.fixed) { type ipv4_addr . inet_proto . inet_service; flags interval; }
        add set inet \(table) \(c.denied) { type ipv4_addr . inet_proto . inet_service; flags dynamic,timeout; timeout 10m; size 256; }
        add set inet \(table) conn_\(slot) { type ipv4_addr; flags dynamic; size 4; }
        add chain inet \(table) \(c.deny)
        add chain inet \(table) \(c.policy)
        add chain inet \(table) \(c.ws)
        flush chain inet \(table) \(c.deny)
        flush chain inet \(table) \(c.ws)
        add rule inet \(table) \(c.deny) update @\(c.denied) { ip daddr . meta l4proto . th dport }
        add rule inet \(table) \(c.deny) counter name \(c.count) drop
        flush chain inet \(table) \(c.policy)
        add rule inet \(table) \(c.policy) goto \(c.deny)
        add rule inet \(table) \(c.ws) ip saddr != \(guest) goto \(c.deny)
        add rule inet \(table) \(c.ws) meta nfproto != ipv4 goto \(c.deny)
        add rule inet \(table) \(c.ws) ct state related ct mark \(occupancy) accept
        add rule inet \(table) \(c.ws) ct state established ct mark \(occupancy) meta l4proto { tcp, udp } accept
        add rule inet \(table) \(c.ws) ct state established ct mark \(occupancy) goto \(c.policy)
        add rule inet \(table) \(c.ws) ct state established,related goto \(c.deny)
        add rule inet \(table) \(c.ws) ct mark set \(occupancy)
        add rule inet \(table) \(c.ws) oifname != "\(uplink)" goto \(c.deny)
        add rule inet \(table) \(c.ws) ip daddr @blocked goto \(c.deny)
        \(cap)
        add rule inet \(table) \(c.ws) ip daddr @private_ok goto \(c.policy)
        add rule inet \(table) \(c.ws) ip daddr @private goto \(c.deny)
        add rule inet \(table) \(c.ws) goto \(c.policy)
        add element inet \(table) dns_ok { "\(hostInterface)" . \(gateway) }
        add element inet \(table) occupants { \(guest) . \(occupancy) }
        add element inet \(table) workspaces { "\(hostInterface)" : goto \(c.ws) }

        """
    }

    /// Replaces a workspace's policy chain and its fixed (CIDR) set in one transaction.
    func policy(slot: Int, mode: NetworkMode, networks: [EffectivePolicy.NetworkGrant]) -> String {
        let c = chains(slot)
        var text = "flush chain inet \(table) \(c.policy)\nflush set inet \(table) \(c.fixed)\n"
        if mode == .open {
            text += "add rule inet \(table) \(c.policy) accept\n"
            return text
        }
        if !networks.isEmpty {
            let elements = networks.map { "\($0.cidr) . \($0.proto.rawValue) . \($0.ports.lowerBound)-\($0.ports.upperBound)" }
            text += "add element inet \(table) \(c.fixed) { \(elements.joined(separator: ", ")) }\n"
        }
        text += """
        add rule inet \(table) \(c.policy) ip daddr . meta l4proto . th dport @\(c.allow) accept
        add rule inet \(table) \(c.policy) ip daddr . meta l4proto . th dport @\(c.fixed) accept
        add rule inet \(table) \(c.policy) goto \(c.deny)

        """
        return text
    }

    /// Resolved addresses, allowed for `seconds` (re-added so a fresh answer extends the timeout).
    func allow(slot: Int, _ entries: [(IPv4, EffectivePolicy.Grant)], seconds: UInt32) -> String {
        let set = chains(slot).allow
        var text = ""
        for (address, grant) in entries {
            let element = "\(address) . \(grant.proto.rawValue) . \(grant.ports.lowerBound)-\(grant.ports.upperBound)"
            text += "add element inet \(table) \(set) { \(element) timeout \(seconds)s }\n"
            text += "delete element inet \(table) \(set) { \(element) }\n"
            text += "add element inet \(table) \(set) { \(element) timeout \(seconds)s }\n"
        }
        return text
    }

    func flushAllowed(slot: Int) -> String { "flush set inet \(table) \(chains(slot).allow)\n" }

    func detach(slot: Int, hostInterface: String, gateway: IPv4, guest: IPv4, occupancy: UInt32) -> String {
        let c = chains(slot)
        return """
        delete element inet \(table) workspaces { "\(hostInterface)" }
        delete element inet \(table) occupants { \(guest) . \(occupancy) }
        delete element inet \(table) dns_ok { "\(hostInterface)" . \(gateway) }
        flush chain inet \(table) \(c.ws)
        flush chain inet \(table) \(c.policy)
        flush chain inet \(table) \(c.deny)
        delete chain inet \(table) \(c.ws)
        delete chain inet \(table) \(c.policy)
        delete chain inet \(table) \(c.deny)
        delete set inet \(table) \(c.allow)
        delete set inet \(table) \(c.fixed)
        delete set inet \(table) \(c.denied)
        delete set inet \(table) conn_\(slot)
        delete counter inet \(table) \(c.count)

        """
    }
}
