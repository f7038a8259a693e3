public import HearthCore
public import HearthRuntime
import Foundation
import Logging

/// A workspace's network made, found again, readdressed and removed.
extension WorkspaceNetworks {
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
            if tenants[id] == nil, let lookup = tenantLookup, let tenant = await lookup(id) { tenants[id] = tenant }
            // A new mark has no connections to cut.
            try await activate(id, slot: slot, occupancy: occupancy, device: device, cutting: false)
        } catch {
            logger.warning("workspace network could not be made", metadata: ["workspace.id": "\(id)", "error": "\(error)"])
            await remove(id: id, slot: slot, hostInterface: hostInterface, namespace: namespace, gateway: gateway, guest: guest, occupancy: occupancy)
            throw HearthError(.runtimeFailed, "the workspace's network could not be made", detail: "\(error)")
        }
        logger.info("workspace network attached", metadata: ["workspace.id": "\(id)", "network.address": "\(guest)",
                                                             "network.interface": "\(hostInterface)", "network.device": "\(device.rawValue)"])
        return attachment(attached[id]!)
    }

    /// Makes a network whose links exist (made now, or adopted) the workspace's: its resolver
    /// listens before DNS is let in, and its chains load with its policy in one nft transaction
    /// (nothing reaches the map's entry for the veth before the policy chain is filled).
    func activate(_ id: String, slot: Int, occupancy: UInt32, device: WorkspaceNetworkDevice, cutting: Bool) async throws {
        let base = network.base.adding(UInt32(slot) * 4)
        let gateway = base.adding(1), guest = base.adding(2)
        let hostInterface = configuration.prefix + String(slot, radix: 36)
        let resolver = try await ResolverChannels.bind(gateway, workspace: id, guest: guest, sink: sink)
        attached[id] = Attached(slot: slot, hostInterface: hostInterface, namespace: configuration.prefix + "-" + id, gateway: gateway,
                                guest: guest, occupancy: occupancy, device: device, resolver: resolver)
        try await applyPolicy(id, cutting: cutting,
                              before: rules.attach(slot: slot, hostInterface: hostInterface, gateway: gateway, guest: guest, occupancy: occupancy))
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
}
