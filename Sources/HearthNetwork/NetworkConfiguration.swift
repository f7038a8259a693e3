/// The operator's networking settings (`hearth serve --network on …`).
public struct NetworkConfiguration: Sendable {
    /// `--network-cidr`: workspaces' addresses; nil picks a free 10.x/16 of this host.
    public var cidr: CIDR?
    /// `--uplink`: the interface egress leaves by; nil takes the default route's.
    public var uplink: String?
    /// `--dns-upstream`: where allowed names are resolved; nil takes /etc/resolv.conf's first IPv4.
    public var dnsUpstream: IPv4?
    public var dnsUpstreamPort: Int = 53
    /// Names of this server's namespaces, veths and nft table start with it (≤ 4 letters).
    public var prefix: String = "hw"
    /// The operator's default policy (`--network-allow RULE`, repeated): what every workspace may reach.
    public var serverPolicy = LevelPolicy(mode: .denyAll, rules: [])
    /// Tenants the operator lets use `open` mode (`--network-open-tenant`).
    public var openTenants: Set<String> = []
    /// Private ranges the operator names as reachable (`--network-allow-private CIDR`).
    public var allowedPrivate: [CIDR] = []
    /// Concurrent connections per workspace (`--network-max-connections`); nil: no cap.
    public var connectionLimit: Int?
    /// Bandwidth each way per workspace in Mbit/s (`--network-bandwidth-mbit`); nil: no limit.
    public var bandwidthMbit: Int?
    /// Resolved addresses stay allowed at least this long, and at most `maximumTTL`.
    public var minimumTTL: UInt32 = 5
    public var maximumTTL: UInt32 = 3600
    /// Host-owned directory for the nft scripts Hearth loads.
    public var stateDirectory: String

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    var table: String { "hearth_\(prefix)" }
}
