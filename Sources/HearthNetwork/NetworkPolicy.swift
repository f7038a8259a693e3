public import HearthCore

public enum NetworkMode: String, Codable, Sendable { case denyAll = "deny-all", open }

/// Where a rule comes from: the operator's server default, the tenant admin's narrowing, or the
/// workspace's own request. Each level can only narrow the one above it.
public enum PolicyLevel: String, Codable, Sendable, CaseIterable { case server, tenant, workspace }

/// One level's say: a mode and rules; nil rules inherit the level above unchanged.
public struct LevelPolicy: Hashable, Sendable {
    public var mode: NetworkMode?
    public var rules: [NetworkRule]?
    public static let maxRules = 64

    public init(mode: NetworkMode? = nil, rules: [NetworkRule]? = nil) {
        self.mode = mode
        self.rules = rules
    }

    /// Parses rule texts, refusing more than `maxRules`.
    public init(mode: String?, rules: [String]?) throws(HearthError) {
        if let mode {
            guard let parsed = NetworkMode(rawValue: mode) else { throw HearthError(.invalidArgument, "mode must be deny-all or open") }
            self.mode = parsed
        }
        if let rules {
            guard rules.count <= Self.maxRules else { throw HearthError(.invalidArgument, "at most \(Self.maxRules) network rules") }
            var parsed: [NetworkRule] = []
            for rule in rules { parsed.append(try NetworkRule(parsing: rule)) }
            self.rules = parsed
        }
    }
}

/// What a workspace may reach: the three levels combined. A destination is allowed in `deny-all`
/// mode only when every level that has rules has one that covers it; `open` needs the operator to
/// allow it for the tenant, the tenant to ask for it, and the workspace not to ask for less.
public struct EffectivePolicy: Hashable, Sendable {
    public var server: LevelPolicy
    public var tenant: LevelPolicy
    public var workspace: LevelPolicy
    /// The operator lets this tenant use `open` (`--network-open-tenant`).
    public var openAllowed: Bool

    public init(server: LevelPolicy, tenant: LevelPolicy = LevelPolicy(), workspace: LevelPolicy = LevelPolicy(), openAllowed: Bool = false) {
        self.server = server
        self.tenant = tenant
        self.workspace = workspace
        self.openAllowed = openAllowed
    }

    public var mode: NetworkMode {
        openAllowed && tenant.mode == .open && workspace.mode != .denyAll ? .open : .denyAll
    }

    /// A protocol and port range allowed, and the rule at each level that allows it.
    public struct Grant: Hashable, Sendable {
        public var proto: NetworkRule.Proto
        public var ports: ClosedRange<UInt16>
        public var because: [String]
    }

    /// A network allowed by CIDR rules at every level.
    public struct NetworkGrant: Hashable, Sendable {
        public var cidr: CIDR
        public var proto: NetworkRule.Proto
        public var ports: ClosedRange<UInt16>
        public var because: [String]
    }

    private var levels: [(PolicyLevel, [NetworkRule])] {
        [(.server, server.rules ?? []), (.tenant, tenant.rules), (.workspace, workspace.rules)].compactMap { level, rules in
            rules.map { (level, $0) }
        }
    }

    /// What `name` may be reached on; empty when the name is not allowed (in `open` mode: everything).
    public func grants(forName name: String) -> [Grant] {
        if mode == .open { return NetworkRule.Proto.allCases.map { Grant(proto: $0, ports: 1...65535, because: ["tenant: open"]) } }
        var current: [Grant]?
        for (level, rules) in levels {
            let here = rules.filter { $0.matches(name: name) }.map { Grant(proto: $0.proto, ports: $0.ports, because: ["\(level.rawValue): \($0)"]) }
            guard let previous = current else { current = here; continue }
            var next: [Grant] = []
            for a in previous {
                for b in here where a.proto == b.proto {
                    let low = max(a.ports.lowerBound, b.ports.lowerBound), high = min(a.ports.upperBound, b.ports.upperBound)
                    if low <= high { next.append(Grant(proto: a.proto, ports: low...high, because: a.because + b.because)) }
                }
            }
            current = Array(next.prefix(256))
        }
        return current ?? []
    }

    /// The networks CIDR rules allow at every level (bounded).
    public var networkGrants: [NetworkGrant] {
        guard mode == .denyAll else { return [] }
        var current: [NetworkGrant]?
        for (level, rules) in levels {
            let here: [NetworkGrant] = rules.compactMap { rule in
                guard case .cidr(let cidr) = rule.target else { return nil }
                return NetworkGrant(cidr: cidr, proto: rule.proto, ports: rule.ports, because: ["\(level.rawValue): \(rule)"])
            }
            guard let previous = current else { current = here; continue }
            var next: [NetworkGrant] = []
            for a in previous {
                for b in here where a.proto == b.proto {
                    let low = max(a.ports.lowerBound, b.ports.lowerBound), high = min(a.ports.upperBound, b.ports.upperBound)
                    if low <= high, let cidr = a.cidr.intersection(b.cidr) {
                        next.append(NetworkGrant(cidr: cidr, proto: a.proto, ports: low...high, because: a.because + b.because))
                    }
                }
            }
            current = Array(next.prefix(1024))
        }
        return current ?? []
    }

    /// Whether an established connection to `destination` may go on under this policy: in `open`
    /// mode, yes; else if a CIDR grant covers it, or one of the names it was resolved from (by this
    /// workspace's resolver, at any time since it attached) is still allowed on that protocol and
    /// port. Its answer having aged out since does not matter: a connection outlives its TTL.
    public func allowsConnection(to destination: IPv4, proto: NetworkRule.Proto, port: UInt16, resolvedFrom names: [String]) -> Bool {
        var judge = ConnectionJudge(self)
        return judge.keeps(destination, proto, port, resolvedFrom: names)
    }
}

/// `EffectivePolicy.allowsConnection` for many connections at once: the policy's CIDR grants are
/// worked out once and each name's grants once, however many connections there are.
public struct ConnectionJudge: Sendable {
    public let open: Bool
    /// Never reachable, whatever the policy (`NFTRules`' blocked set: the always-blocked ranges,
    /// the workspaces' own network, the host's addresses), and private ranges the operator has not
    /// named: a connection to one, opened under other settings, goes.
    public var refused: [CIDR] = []
    public var privateRanges: [CIDR] = []
    public var allowedPrivate: [CIDR] = []
    let networks: [EffectivePolicy.NetworkGrant]
    let policy: EffectivePolicy
    var nameGrants: [String: [EffectivePolicy.Grant]] = [:]

    public init(_ policy: EffectivePolicy) {
        self.policy = policy
        open = policy.mode == .open
        networks = open ? [] : policy.networkGrants
    }

    public mutating func keeps(_ destination: IPv4, _ proto: NetworkRule.Proto, _ port: UInt16, resolvedFrom names: [String]) -> Bool {
        if refused.contains(where: { $0.contains(destination) }) { return false }
        if privateRanges.contains(where: { $0.contains(destination) }), !allowedPrivate.contains(where: { $0.contains(destination) }) { return false }
        if open { return true }
        if networks.contains(where: { $0.cidr.contains(destination) && $0.proto == proto && $0.ports.contains(port) }) { return true }
        for name in names {
            let grants: [EffectivePolicy.Grant]
            if let cached = nameGrants[name] {
                grants = cached
            } else {
                grants = policy.grants(forName: name)
                if nameGrants.count < 65_536 { nameGrants[name] = grants }
            }
            if grants.contains(where: { $0.proto == proto && $0.ports.contains(port) }) { return true }
        }
        return false
    }
}
