import Foundation
import HearthCore
import HearthNetwork
import HearthRuntime
import Testing

/// A freed address goes to the next workspace at once. The connections tracked for the workspace
/// before it must not pass as the new one's, in either direction, and must leave the host's
/// connection-tracking table with the workspace that made them.
@Suite(.serialized, .timeLimit(.minutes(3))) struct NetworkAddressReuseTests {
    /// Sends one datagram from each local port in argv[3...] to argv[1]:argv[2], then prints how
    /// many flows were echoed back within two seconds.
    static let udpFlows = #"""
    import select,socket,sys,time
    flows=[]
    for port in sys.argv[3:]:
        s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
        s.bind(("0.0.0.0",int(port)))
        s.sendto(b"flow",(sys.argv[1],int(sys.argv[2])))
        flows.append(s)
    answered=set()
    deadline=time.monotonic()+2
    while len(answered)<len(flows) and time.monotonic()<deadline:
        ready,_,_=select.select([f for f in flows if f not in answered],[],[],max(0,deadline-time.monotonic()))
        for f in ready:
            f.recv(64); answered.add(f)
    print(len(answered))
    """#

    static func trackedConnections() throws -> Int {
        let text = try String(contentsOfFile: "/proc/sys/net/netfilter/nf_conntrack_count", encoding: .utf8)
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    static func namespace(_ attachment: WorkspaceNetworkAttachment) -> String {
        String(attachment.namespacePath.split(separator: "/").last!)
    }

    /// Attaches `id` and resolves allowed.example through its resolver (which allows its UDP echo
    /// port under the server's rules).
    static func attachResolvingAllowed(_ networks: WorkspaceNetworks, _ id: String) async throws -> WorkspaceNetworkAttachment {
        let a = try await networks.attach(workspace: id)
        let resolved = try await NetworkScaleTests.probe(namespace(a), gateway: a.nameserver, names: ["allowed.example"], connect: [])
        #expect(resolved["allowed.example"] == TestInternet.web)
        return a
    }

    /// `udpFlows` from `ports` to the echo server at allowed.example:7777, run in `a`'s namespace.
    static func flows(_ a: WorkspaceNetworkAttachment, _ ports: [String]) -> [String] {
        ["ip", "netns", "exec", namespace(a), "/usr/bin/python3", "-c", udpFlows, TestInternet.web, "7777"] + ports
    }

    /// A tightened policy cuts the established connections it no longer allows, at once: their
    /// next packets are dropped and counted, both ways (no echo comes back in).
    @Test func aTighterPolicyCutsTheConnectionsItNoLongerAllows() async throws {
        try await NetworkScaleTests.withNetworks { networks in
            let ports = (42000..<42005).map(String.init)
            let a = try await Self.attachResolvingAllowed(networks, "ws_tightened")
            let flows = Self.flows(a, ports)
            #expect(try await TestInternet.exec(flows).stdout == "5\n", "the flows are allowed at first")
            // Still allowed (the workspace narrows to exactly that): the flows go on.
            try await networks.setWorkspacePolicy("ws_tightened", try LevelPolicy(mode: nil, rules: ["udp:allowed.example:7777"]))
            #expect(try await TestInternet.exec(flows).stdout == "5\n", "a policy that still allows them keeps them")
            // No longer allowed: the same flows, established a moment ago, are cut.
            try await networks.setWorkspacePolicy("ws_tightened", try LevelPolicy(mode: nil, rules: ["*.pkg.example:80"]))
            #expect(try await TestInternet.exec(flows).stdout == "0\n", "a policy that no longer allows them cuts them")
            let log = await networks.netlog("ws_tightened")
            #expect((log?.deniedPackets ?? 0) >= 5, "counted as denials: \(String(describing: log?.deniedPackets))")
        }
    }

    /// Pings the address in argv[1] from ICMP id 4242 (a raw socket: the flow stays one tracked
    /// connection), argv[2] times, and prints how many echoes came back within a second each.
    static let pings = #"""
    import socket,struct,sys,time
    s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP); s.settimeout(1)
    def checksum(b):
        t=sum(struct.unpack("!%dH"%(len(b)//2),b)); t=(t>>16)+(t&0xffff); t+=t>>16; return ~t&0xffff
    got=0
    for seq in range(int(sys.argv[2])):
        h=struct.pack("!BBHHH",8,0,0,4242,seq)+b"hearth!!"
        s.sendto(struct.pack("!BBHHH",8,0,checksum(h),4242,seq)+b"hearth!!",(sys.argv[1],0))
        deadline=time.monotonic()+1
        while time.monotonic()<deadline:
            try:
                r=s.recv(256)
            except socket.timeout:
                break
            if r[20]==0 and struct.unpack("!H",r[24:26])[0]==4242:
                got+=1; break
    print(got)
    """#

    /// Open mode lets a workspace ping; the change to deny-all stops its ping flow at once, though
    /// conntrack still holds it (only TCP and UDP entries are cut: the rest go through the policy).
    @Test func anOpenWorkspacesPingStopsWhenItsTenantTurnsToDenyAll() async throws {
        try await NetworkScaleTests.withNetworks { networks in
            try await networks.setOpenAllowed(true, tenant: "tn_open")
            try await networks.setTenantPolicy("tn_open", try LevelPolicy(mode: "open", rules: nil))
            let a = try await networks.attach(workspace: "ws_pinging")
            try await networks.assign(workspace: "ws_pinging", tenant: "tn_open")
            let ping = ["ip", "netns", "exec", Self.namespace(a), "/usr/bin/python3", "-c", Self.pings, TestInternet.web]
            #expect(try await TestInternet.exec(ping + ["2"]).stdout == "2\n", "open mode pings")
            try await networks.setTenantPolicy("tn_open", try LevelPolicy(mode: "deny-all", rules: nil))
            #expect(try await TestInternet.exec(ping + ["2"]).stdout == "0\n", "deny-all stops the same flow")
        }
    }

    @Test func aReusedAddressCarriesNoneOfItsLastWorkspacesConnections() async throws {
        try await NetworkScaleTests.withNetworks { networks in
            let ports = (41000..<41020).map(String.init)
            // The first workspace may send UDP to allowed.example:7777 (the server's rules): it
            // resolves the name, then opens twenty flows to the echo server there.
            let first = try await Self.attachResolvingAllowed(networks, "ws_before")
            let echoed = try await TestInternet.exec(Self.flows(first, ports))
            #expect(echoed.stdout == "20\n", "the first workspace's flows: \(echoed.stdout) \(echoed.stderr)")
            let tracked = try Self.trackedConnections()
            await networks.detach(workspace: "ws_before")
            let left = try Self.trackedConnections()
            #expect(tracked - left >= 20, "the detach removes the workspace's tracked flows: \(tracked) before, \(left) after")

            // The next workspace gets the same address, and a policy without that UDP port.
            let second = try await networks.attach(workspace: "ws_after")
            try await networks.setWorkspacePolicy("ws_after", try LevelPolicy(mode: nil, rules: ["*.pkg.example:80"]))
            #expect(second.nameserver == first.nameserver, "the freed address is reused (else this test proves nothing)")
            let replayed = try await TestInternet.exec(Self.flows(second, ports))
            #expect(replayed.stdout == "0\n", "the same flows from the new workspace are dropped: \(replayed.stdout) \(replayed.stderr)")
            let log = await networks.netlog("ws_after")
            #expect((log?.deniedPackets ?? 0) >= 20, "and counted as denials: \(String(describing: log?.deniedPackets))")
            #expect(log?.entries.contains { !$0.allowed && $0.destination.hasPrefix(TestInternet.web) } == true,
                    "and logged: \(String(describing: log?.entries.map(\.destination)))")
            await networks.detach(workspace: "ws_after")
        }
    }
}
