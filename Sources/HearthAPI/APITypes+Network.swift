extension API {
    /// One level of a workspace's network policy: a mode (`deny-all` or `open`) and rules
    /// (`[udp:]NAME|*.NAME|CIDR[:PORT[-PORT]]`); `null` inherits the level above.
    public struct NetworkLevelBody: Codable, Sendable, Equatable {
        public var mode: String?
        public var rules: [String]?
        public init(mode: String? = nil, rules: [String]? = nil) {
            self.mode = mode
            self.rules = rules
        }
    }

    /// The policy in force for a workspace: each level's say, the mode that results, and for each
    /// effective network rule the rule at every level that allows it.
    public struct NetworkPolicyBody: Codable, Sendable, Equatable {
        public struct Effective: Codable, Sendable, Equatable {
            public var rule: String
            public var because: [String]
            public init(rule: String, because: [String]) {
                self.rule = rule
                self.because = because
            }
        }
        public var mode: String
        public var server: NetworkLevelBody
        public var tenant: NetworkLevelBody
        public var workspace: NetworkLevelBody
        public var networks: [Effective]
        public init(mode: String, server: NetworkLevelBody, tenant: NetworkLevelBody, workspace: NetworkLevelBody, networks: [Effective]) {
            self.mode = mode
            self.server = server
            self.tenant = tenant
            self.workspace = workspace
            self.networks = networks
        }
    }

    /// Recent network decisions of a workspace (`GET /v1/workspaces/{ws}/netlog`).
    public struct NetLogBody: Codable, Sendable, Equatable {
        public struct Entry: Codable, Sendable, Equatable {
            public var time: String
            public var kind: String
            public var allowed: Bool
            public var destination: String
            public var rule: String
            public init(time: String, kind: String, allowed: Bool, destination: String, rule: String) {
                self.time = time
                self.kind = kind
                self.allowed = allowed
                self.destination = destination
                self.rule = rule
            }
        }
        public var entries: [Entry]
        public var denied_names: Int
        public var allowed_names: Int
        public var denied_packets: Int
        public init(entries: [Entry], denied_names: Int, allowed_names: Int, denied_packets: Int) {
            self.entries = entries
            self.denied_names = denied_names
            self.allowed_names = allowed_names
            self.denied_packets = denied_packets
        }
    }
}
