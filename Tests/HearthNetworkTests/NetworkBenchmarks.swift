import Foundation
import HearthAPI
import HearthNetwork
import HearthRuntime
import HearthServerTestKit
import Logging
import Testing

/// Figures for BENCHMARKS.md, printed, never asserted (`HEARTH_NETWORK_BENCH=1`). The policy's
/// cost is measured at the namespace level: a workspace's namespace behind Hearth's filter against
/// a peer namespace with the same veth and NAT and no filter, both to the test internet.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["HEARTH_NETWORK_BENCH"] != nil))
struct NetworkBenchmarks {
    static let measure = #"""
    import socket,struct,sys,time
    mode=sys.argv[1]
    def pct(l):
        l.sort(); return "p50 %.3f ms p99 %.3f ms" % (l[len(l)//2]*1000, l[min(len(l)-1,int(len(l)*0.99))]*1000)
    if mode=="dns":
        lat=[]
        for n in sys.argv[3].split(","):
            s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
            m=struct.pack("!HHHHHH",7,0x0100,1,0,0,0)+b"".join(bytes([len(l)])+l.encode() for l in n.split("."))+b"\0"+struct.pack("!HH",1,1)
            t=time.perf_counter(); s.sendto(m,(sys.argv[2],53)); s.recv(512); lat.append(time.perf_counter()-t); s.close()
        print(pct(lat[1:]))
    elif mode=="connect":
        lat=[]
        for i in range(int(sys.argv[3])):
            c=socket.socket(); t=time.perf_counter(); c.connect((sys.argv[2],80)); lat.append(time.perf_counter()-t); c.close()
        print(pct(lat))
    else:
        c=socket.socket(); c.connect((sys.argv[2],9000)); buf=b"x"*(1<<20); n=int(sys.argv[3])
        t=time.perf_counter()
        for i in range(n): c.sendall(buf)
        dt=time.perf_counter()-t
        print("%.0f Mbit/s" % (n*8/dt))
    """#

    static func run(_ ns: String, _ args: [String]) async throws -> String {
        let ip = HostCommand.which("ip") ?? "/usr/sbin/ip"
        let out = try await HostCommand.run([ip, "netns", "exec", ns, "/usr/bin/python3", "-c", measure] + args, timeout: .seconds(180))
        return out.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + (out.succeeded ? "" : " (failed: \(out.stderr.suffix(200)))")
    }

    @Test func policyCostAtTheNamespaceLevel() async throws {
        let internet = try await TestInternet.start()
        var configuration = NetworkConfiguration(stateDirectory: NSTemporaryDirectory() + "hearth-net-bench-\(UUID().uuidString.prefix(8))")
        configuration.prefix = "htw"
        configuration.cidr = CIDR("10.214.0.0/16")
        configuration.uplink = TestInternet.uplink
        configuration.dnsUpstream = IPv4(TestInternet.dnsServer)
        configuration.serverPolicy = try LevelPolicy(mode: "deny-all", rules: ["allowed.example", "*.pkg.example"])
        var logger = Logger(label: "hearth.bench")
        logger.logLevel = .warning
        let networks = try await WorkspaceNetworks.start(configuration, logger: logger)
        let running = Task { try await networks.run() }
        let peer = ["ip netns add hb-peer", "ip link add hbpeer type veth peer name eth0 netns hb-peer",
                    "ip addr add 10.215.0.1/30 dev hbpeer", "ip link set hbpeer up", "ip -n hb-peer addr add 10.215.0.2/30 dev eth0",
                    "ip -n hb-peer link set eth0 up", "ip -n hb-peer link set lo up", "ip -n hb-peer route add default via 10.215.0.1",
                    "sysctl -qw net.ipv4.conf.hbpeer.forwarding=1",
                    "nft add table ip hbpeer_nat", "nft add chain ip hbpeer_nat post { type nat hook postrouting priority srcnat ; }",
                    "nft add rule ip hbpeer_nat post ip saddr 10.215.0.0/30 oifname \(TestInternet.uplink) masquerade"]
        var report: [String] = []
        do {
            for step in peer { try await TestInternet.run(step.split(separator: " ").map(String.init)) }
            let a = try await networks.attach(workspace: "ws_bench")
            let ns = String(a.namespacePath.split(separator: "/").last!)
            let uncached = (0..<151).map { "n\($0).pkg.example" }.joined(separator: ",")
            // Within the resolver's budget (bursts of 200 questions): beyond it they are dropped.
            let cached = Array(repeating: "allowed.example", count: 151).joined(separator: ",")
            report.append("DNS uncached (upstream + nft set update): " + (try await Self.run(ns, ["dns", a.nameserver, uncached])))
            report.append("DNS cached: " + (try await Self.run(ns, ["dns", a.nameserver, cached])))
            report.append("TCP connect, through the policy: " + (try await Self.run(ns, ["connect", TestInternet.web, "200"])))
            report.append("TCP connect, peer without filter: " + (try await Self.run("hb-peer", ["connect", TestInternet.web, "200"])))
            // The allow-set entry lives as long as the answer's TTL (60 s here): resolve again first.
            _ = try await Self.run(ns, ["dns", a.nameserver, "allowed.example,allowed.example"])
            report.append("TCP throughput 256 MiB, through the policy: " + (try await Self.run(ns, ["throughput", TestInternet.web, "256"])))
            report.append("TCP throughput 256 MiB, peer without filter: " + (try await Self.run("hb-peer", ["throughput", TestInternet.web, "256"])))
        } catch {
            report.append("failed: \(error)")
        }
        _ = try? await TestInternet.exec(["ip", "netns", "del", "hb-peer"])
        _ = try? await TestInternet.exec(["nft", "delete", "table", "ip", "hbpeer_nat"])
        running.cancel()
        _ = await running.result
        await networks.shutdown()
        await internet.stop()
        print("NETWORK BENCHMARK\n" + report.joined(separator: "\n"))
    }

    @Test func createToFirstExecWithAndWithoutNetworking() async throws {
        func time(_ server: LiveServer) async throws -> [Double] {
            var out: [Double] = []
            for _ in 0..<10 {
                let start = ContinuousClock.now
                let w = try await server.client.create(API.CreateWorkspaceBody())
                _ = try await server.client.run(w.id, ["true"])
                let d = ContinuousClock.now - start
                out.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
                try await server.client.delete(w.id)
            }
            return out.sorted()
        }
        var on: [Double] = []
        try await NetworkedServer.with { net in on = try await time(net.server) }
        let plain = try await LiveServer.start()
        let off = try await time(plain)
        await plain.stop()
        print("NETWORK BENCHMARK create→first exec ms (10 runs, sorted): networking on \(on.map { Int($0) }), off \(off.map { Int($0) })")
    }
}
