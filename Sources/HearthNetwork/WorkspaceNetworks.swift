public import HearthCore
public import HearthRuntime
import Foundation
public import Logging
import NIOCore
public import ServiceLifecycle

/// Every workspace's network on this host: a namespace, a veth whose host end carries the
/// workspace's filter (nftables), NAT out of the uplink, and Hearth's resolver as its only DNS
/// server. A `Service`: `run()` answers the workspaces' DNS questions until shutdown, then removes
/// every namespace, veth and the nft table.
public actor WorkspaceNetworks: WorkspaceNetworking, Service {
    struct Attached {
        var slot: Int
        var hostInterface: String
        var namespace: String
        var gateway: IPv4
        var guest: IPv4
        /// The `ct mark` of this workspace's connections (`NFTRules.attach`).
        var occupancy: UInt32
        var device: WorkspaceNetworkDevice
        var resolver: ResolverChannels
        var log = NetLog()
        /// Answers still valid: name → addresses and when they expire.
        var cache: [String: (addresses: [IPv4], expires: ContinuousClock.Instant)] = [:]
        /// Every name an address was an answer for, since the workspace attached (bounded:
        /// `noteResolved`). A policy change keeps a connection whose name it still allows.
        var resolvedNames: [IPv4: [String]] = [:]
    }

    public let configuration: NetworkConfiguration
    public let network: CIDR
    public let uplink: String
    let rules: NFTRules
    let logger: Logger
    let upstream: UpstreamDNS
    var attached: [String: Attached] = [:]
    var freeSlots: [Int]
    /// The next workspace's connection mark. It starts at random, so the marks of connections a
    /// previous run of the server left in the host's table are not this run's.
    var nextOccupancy = UInt32.random(in: 1...UInt32.max)
    /// Connection cuts waiting for the conntrack queue (`cutConnections`).
    let pendingCuts = PendingCuts()
    var tenantPolicies: [String: LevelPolicy] = [:]
    var workspacePolicies: [String: LevelPolicy] = [:]
    var tenants: [String: String] = [:]
    var openTenants: Set<String>
    var scripts = 0
    let requests: AsyncStream<DNSRequest>
    let sink: AsyncStream<DNSRequest>.Continuation
    /// Called for each denial, or summary of denials, the audit log should see (already sampled).
    var onDenial: (@Sendable (DenialAuditSampler.Record) -> Void)?
    var denialAudit = DenialAuditSampler()
    let nftGate = SerialGate()

    public static let maxWorkspaces = 4096

    /// Checks the host, replaces this server's nft table, and opens the upstream socket.
    public static func start(_ configuration: NetworkConfiguration, logger: Logger) async throws -> WorkspaceNetworks {
        guard configuration.prefix.count <= 4, configuration.prefix.allSatisfy({ $0.isASCII && $0.isLetter && $0.isLowercase }) else {
            throw HearthError(.invalidArgument, "the network prefix is 1-4 lowercase letters")
        }
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let routes = try await HostNet.ip(["-4", "-o", "route", "show", "table", "all"]).stdout
        let addresses = try await HostNet.ip(["-4", "-o", "addr", "show"]).stdout
        let inUse = HostNet.networks(routes: routes, addresses: addresses, ignoringPrefix: configuration.prefix)
        let network: CIDR
        if let wanted = configuration.cidr {
            guard wanted.prefix <= 24, wanted.prefix >= 8 else { throw HearthError(.invalidArgument, "--network-cidr must be a /8 to /24") }
            if let clash = inUse.first(where: { $0.overlaps(wanted) && $0.prefix > 0 }) {
                throw HearthError(.invalidArgument, "--network-cidr \(wanted) overlaps \(clash), which this host already uses")
            }
            network = wanted
        } else {
            guard let free = (0...255).lazy.map({ CIDR(base: IPv4(UInt32(10) << 24 | UInt32($0) << 16), prefix: 16) })
                .first(where: { candidate in !inUse.contains { $0.prefix > 0 && $0.overlaps(candidate) } }) else {
                throw HearthError(.invalidArgument, "no free /16 in 10.0.0.0/8; set --network-cidr")
            }
            network = free
        }
        let uplink: String
        if let configured = configuration.uplink {
            uplink = configured
        } else {
            guard let found = HostNet.defaultInterface(routes: routes) else { throw HearthError(.invalidArgument, "no default route; set --uplink") }
            uplink = found
        }
        guard let upstreamAddress = configuration.dnsUpstream ?? HostNet.resolvConfNameserver() else {
            throw HearthError(.invalidArgument, "no IPv4 nameserver in /etc/resolv.conf; set --dns-upstream")
        }
        // What an earlier run left: the networks of sandboxes still running are adopted, the rest goes.
        let stored = loadAttachments(configuration)
        let adoptable = adoptable(stored, network: network, prefix: configuration.prefix)
        await HostNet.removeLeftovers(prefix: configuration.prefix,
                                      keeping: Set(adoptable.flatMap { [names($0, prefix: configuration.prefix).namespace, names($0, prefix: configuration.prefix).hostInterface] }))
        let rules = NFTRules(table: configuration.table, interfacePrefix: configuration.prefix, uplink: uplink, network: network,
                             hostAddresses: HostNet.hostAddresses(addresses, ignoringPrefix: configuration.prefix), allowedPrivate: configuration.allowedPrivate,
                             connectionLimit: configuration.connectionLimit)
        let upstream = try UpstreamDNS(server: upstreamAddress, port: configuration.dnsUpstreamPort)
        let networks = WorkspaceNetworks(configuration: configuration, network: network, uplink: uplink, rules: rules, upstream: upstream, logger: logger)
        await networks.loadPolicies()
        try await networks.load(rules.base())
        await networks.adopt(stored, adoptable: adoptable)
        // Forwarding per interface (the uplink and each workspace's veth), not host-wide.
        HostNet.sysctl("net/ipv4/conf/\(uplink)/forwarding", "1")
        try await upstream.start()
        logger.notice("workspace networking on", metadata: ["network.cidr": "\(network)", "network.uplink": "\(uplink)",
                                                            "network.dns_upstream": "\(upstreamAddress)"])
        return networks
    }

    init(configuration: NetworkConfiguration, network: CIDR, uplink: String, rules: NFTRules, upstream: UpstreamDNS, logger: Logger) {
        self.configuration = configuration
        self.network = network
        self.uplink = uplink
        self.rules = rules
        self.upstream = upstream
        self.logger = logger
        openTenants = configuration.openTenants
        let slots = Int(min(network.size / 4, UInt32(Self.maxWorkspaces + 1)))
        freeSlots = Array((1..<slots).reversed())
        (requests, sink) = AsyncStream.makeStream(of: DNSRequest.self, bufferingPolicy: .bufferingNewest(512))
    }

    /// How the server finds a workspace's tenant (asked once, when its network is made).
    var tenantLookup: (@Sendable (String) async -> String?)?
    public func setTenantLookup(_ lookup: @escaping @Sendable (String) async -> String?) { tenantLookup = lookup }

    public func setAuditSink(_ sink: @escaping @Sendable (DenialAuditSampler.Record) -> Void) { onDenial = sink }

    /// Loads an nft script (written to a host-owned file: nft reads no stdin through HostCommand).
    func load(_ script: String, quiet: Bool = false) async throws {
        // Committed in the order this actor asked (the ticket is taken before the first await),
        // so a later policy is never overwritten by an earlier one.
        let turn = nftGate.ticket()
        scripts &+= 1
        // One file per load, never reused: this actor awaits nft, so loads interleave, and a shared
        // name (64 of them, once) let a later script overwrite a narrowing policy before nft read it.
        let path = configuration.stateDirectory + "/nft-\(scripts).nft"
        let result = try await nftGate.run(turn) {
            try Data(script.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            defer { try? FileManager.default.removeItem(atPath: path) }
            return try await HostNet.run(["nft", "-f", path])
        }
        if !result.succeeded, !quiet {
            throw HearthError(.runtimeFailed, "the network filter could not be loaded", detail: "nft: \(result.stderr.prefix(500))")
        }
    }

    // MARK: Service

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { try? await cancelWhenGracefulShutdown { try await self.watchDenials() } }
            await withGracefulShutdownHandler {
                for await request in requests {
                    // At most 64 questions are answered at once, at most 8 of one workspace, so a
                    // workspace flooding its resolver cannot starve the others' lookups (the
                    // handler also rate-limits each workspace); the stream keeps the newest 512.
                    guard answering < 64, answeringFor[request.workspace, default: 0] < 8 else { continue }
                    answering += 1
                    answeringFor[request.workspace, default: 0] += 1
                    group.addTask {
                        await self.answer(request)
                        await self.finishedAnswer(request.workspace)
                    }
                }
            } onGracefulShutdown: { [sink] in
                sink.finish()
            }
        }
        await release()
    }

    /// At the server's stop: its sandboxes run on, and so do their networks, for the next server to
    /// adopt (`adopt`); only the resolvers and the upstream socket close.
    func release() async {
        // With no resolver of ours listening, no workspace may reach whatever else serves port 53
        // on the host: DNS to the gateways closes first (the next server opens it again), and the
        // accept rule takes only sockets bound to the gateway, never a wildcard one (a crash leaves
        // the set full). A stop by cancellation (a test's) would cancel the nft run too: it runs
        // in a task of its own, awaited here, which cancellation does not reach.
        let flush = "flush set inet \(configuration.table) dns_ok\n"
        await Task.detached { [self] in try? await self.load(flush, quiet: true) }.value
        for a in attached.values { await a.resolver.close() }
        upstream.close()
        logger.info("workspace networks left for the next server", metadata: ["network.workspaces": "\(attached.count)"])
    }

    private var answering = 0
    private var answeringFor: [String: Int] = [:]
    private func finishedAnswer(_ workspace: String) {
        answering -= 1
        let left = answeringFor[workspace, default: 1] - 1
        answeringFor[workspace] = left > 0 ? left : nil
    }

    /// Removes every workspace's network, its record and this server's table (tests, and a server
    /// turning networking off for good).
    public func shutdown() async {
        for (id, a) in attached {
            await remove(id: id, slot: a.slot, hostInterface: a.hostInterface, namespace: a.namespace, gateway: a.gateway, guest: a.guest, occupancy: a.occupancy)
        }
        if !(await HostNet.deleteTable(configuration.table)) {
            logger.error("the network table could not be removed", metadata: ["network.table": "\(configuration.table)"])
        }
        try? FileManager.default.removeItem(atPath: Self.attachmentFile(configuration))
        upstream.close()
    }
}
