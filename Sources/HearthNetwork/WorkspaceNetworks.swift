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

    // MARK: Attach and detach

    public func attach(workspace id: String, device: WorkspaceNetworkDevice, preferring: String?) async throws -> WorkspaceNetworkAttachment {
        if let existing = attached[id] {
            if existing.device == .netstack { try await readdress(existing) }
            return attachment(existing)
        }
        guard let slot = takeSlot(preferring: preferring.flatMap { IPv4($0) }) else {
            throw HearthError(.quotaExceeded, "this server has no network address left for a workspace")
        }
        let base = network.base.adding(UInt32(slot) * 4)
        let gateway = base.adding(1), guest = base.adding(2)
        let hostInterface = configuration.prefix + String(slot, radix: 36)
        let namespace = configuration.prefix + "-" + id
        let occupancy = takeOccupancy()
        do {
            // One `ip` for the host's side and one for the namespace's (each is a process, and a
            // create waits for them: nine of them cost about 40 ms).
            try await HostNet.ipBatch([
                "netns add \(namespace)",
                "link add \(hostInterface) type veth peer name eth0 netns \(namespace)",
                "addr add \(gateway)/30 dev \(hostInterface)",
                "link set \(hostInterface) up",
            ], scratch: configuration.stateDirectory)
            // The link-local address the host end took when it came up goes with IPv6; nothing
            // runs behind the veth yet.
            HostNet.sysctl("net/ipv6/conf/\(hostInterface)/disable_ipv6", "1")
            HostNet.sysctl("net/ipv4/conf/\(hostInterface)/forwarding", "1")
            // A microVM's guest writes whole frames: packets with another source than its route
            // are dropped by the kernel too (strict reverse path), and ARP is answered only for
            // the gateway's own address, so the link tells the guest nothing of the host's others.
            HostNet.sysctl("net/ipv4/conf/\(hostInterface)/rp_filter", "1")
            HostNet.sysctl("net/ipv4/conf/\(hostInterface)/arp_ignore", "1")
            HostNet.sysctl("net/ipv4/conf/\(hostInterface)/arp_announce", "2")
            switch device {
            case .netstack:
                try await HostNet.ipBatch(["addr add \(guest)/30 dev eth0", "link set eth0 up", "link set lo up",
                                           "route add default via \(gateway)"], in: namespace, scratch: configuration.stateDirectory)
            case .tap:
                try await HostNet.joinTap(Self.tapName, to: "eth0", in: namespace, scratch: configuration.stateDirectory)
            }
            if let mbit = configuration.bandwidthMbit {
                let tbf = ["root", "tbf", "rate", "\(mbit)mbit", "burst", "256kb", "latency", "50ms"]
                try await HostNet.run(["tc", "qdisc", "add", "dev", hostInterface] + tbf)
                try await HostNet.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", "eth0"] + tbf)
            }
            let resolver = try await ResolverChannels.bind(gateway, workspace: id, guest: guest, sink: sink)
            if tenants[id] == nil, let lookup = tenantLookup, let tenant = await lookup(id) { tenants[id] = tenant }
            attached[id] = Attached(slot: slot, hostInterface: hostInterface, namespace: namespace, gateway: gateway, guest: guest,
                                    occupancy: occupancy, device: device, resolver: resolver)
            // The chains and the policy in one nft transaction (nothing reaches the map's entry
            // for the veth before the policy chain is filled); a new mark has no connections to cut.
            try await applyPolicy(id, cutting: false,
                                  before: rules.attach(slot: slot, hostInterface: hostInterface, gateway: gateway, guest: guest, occupancy: occupancy))
        } catch {
            logger.warning("workspace network could not be made", metadata: ["workspace.id": "\(id)", "error": "\(error)"])
            await remove(id: id, slot: slot, hostInterface: hostInterface, namespace: namespace, gateway: gateway, guest: guest, occupancy: occupancy)
            throw HearthError(.runtimeFailed, "the workspace's network could not be made", detail: "\(error)")
        }
        logger.info("workspace network attached", metadata: ["workspace.id": "\(id)", "network.address": "\(guest)",
                                                             "network.interface": "\(hostInterface)", "network.device": "\(device.rawValue)"])
        return attachment(attached[id]!)
    }

    /// The next connection mark no attached workspace has (adopted ones keep theirs).
    func takeOccupancy() -> UInt32 {
        let inUse = Set(attached.values.map(\.occupancy))
        while inUse.contains(nextOccupancy) || nextOccupancy == 0 { nextOccupancy &+= 1 }
        defer { nextOccupancy &+= 1 }
        return nextOccupancy
    }

    /// runsc takes the namespace's address and routes into its netstack and removes them from the
    /// interface (so the namespace's kernel answers nothing): every start and restore of the same
    /// workspace finds them gone, and they are put back first.
    func readdress(_ a: Attached) async throws {
        do {
            try await HostNet.ipBatch(["addr replace \(a.guest)/30 dev eth0", "link set eth0 up", "route replace default via \(a.gateway)"],
                                      in: a.namespace, scratch: configuration.stateDirectory)
        } catch {
            throw HearthError(.runtimeFailed, "the workspace's network could not be restored", detail: "\(error)")
        }
    }

    /// The tap a microVM's VMM is handed, in its workspace's namespace.
    public static let tapName = "tap0"

    func attachment(_ a: Attached) -> WorkspaceNetworkAttachment {
        WorkspaceNetworkAttachment(namespacePath: "/run/netns/" + a.namespace, nameserver: "\(a.gateway)", address: "\(a.guest)",
                                   prefixLength: 30, tapName: a.device == .tap ? Self.tapName : nil)
    }

    /// A free slot: the one holding `preferred` as its guest address when that one is free (a
    /// resumed microVM keeps the address its kernel was given), else the next.
    func takeSlot(preferring preferred: IPv4?) -> Int? {
        if let preferred, network.contains(preferred) {
            let offset = preferred.value &- network.base.value
            if offset % 4 == 2, let index = freeSlots.firstIndex(of: Int(offset / 4)) {
                return freeSlots.remove(at: index)
            }
        }
        return freeSlots.popLast()
    }

    public func detach(workspace id: String) async {
        guard let a = attached[id] else { return }
        // Forgotten before the removal's awaits, so an attach of the same id that completes
        // meanwhile keeps what it set.
        workspacePolicies[id] = nil
        tenants[id] = nil
        denialAudit.forget(id)
        savePolicies()
        await remove(id: id, slot: a.slot, hostInterface: a.hostInterface, namespace: a.namespace, gateway: a.gateway, guest: a.guest, occupancy: a.occupancy)
        logger.info("workspace network detached", metadata: ["workspace.id": "\(id)"])
    }

    /// Removes a workspace's network, in a task of its own that the caller's cancellation (a
    /// failed or abandoned create) does not reach: a cancelled `ip` or `nft` would be killed, and
    /// leave a namespace, a veth or a map entry behind on a slot the next workspace is given.
    func remove(id: String, slot: Int, hostInterface: String, namespace: String, gateway: IPv4, guest: IPv4, occupancy: UInt32) async {
        await Task.detached { [self] in
            await removeNow(id: id, slot: slot, hostInterface: hostInterface, namespace: namespace, gateway: gateway, guest: guest, occupancy: occupancy)
        }.value
    }

    private func removeNow(id: String, slot: Int, hostInterface: String, namespace: String, gateway: IPv4, guest: IPv4, occupancy: UInt32) async {
        if let a = attached.removeValue(forKey: id) { await a.resolver.close() }
        try? await load(rules.detach(slot: slot, hostInterface: hostInterface, gateway: gateway, guest: guest, occupancy: occupancy), quiet: true)
        _ = try? await HostNet.ip(["netns", "del", namespace])
        _ = try? await HostNet.ip(["link", "del", hostInterface])
        // The rules no longer pass this workspace's connections (their mark is out of `occupants`);
        // deleting them also gives back the host's table, which a tenant that opens its connection
        // cap's worth and deletes its workspace, over and over, would otherwise fill for days (an
        // established TCP entry lives five days). Nothing new carries the mark: its chain is gone.
        _ = await cutConnections(marked: occupancy, workspace: id, judge: nil)
        freeSlots.append(slot)
        saveAttachments()
    }

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
        _ = try? await HostNet.run(["nft", "delete", "table", "inet", configuration.table])
        try? FileManager.default.removeItem(atPath: Self.attachmentFile(configuration))
        upstream.close()
    }
}
