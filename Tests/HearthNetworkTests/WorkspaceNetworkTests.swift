import Foundation
import HearthAPI
import HearthAudit
import HearthClient
import HearthCore
import HearthNetwork
import HearthRuntime
import HearthServerTestKit
import Testing

/// Real workspaces behind the egress filter, against the test internet (root), in both runtimes:
/// gVisor's netstack on the namespace's veth, and a QEMU microVM (TCG here) whose guest kernel
/// holds the address, its frames carried by a tap in the namespace.
@Suite(.serialized, .timeLimit(.minutes(10))) struct WorkspaceNetworkTests {
    /// A microVM's memory is kept small: two of them boot in this suite's escape test.
    static func body(_ name: String, _ runtime: String) -> API.CreateWorkspaceBody {
        API.CreateWorkspaceBody(name: name, runtime: runtime, memory_mib: runtime == "qemu" ? 512 : nil)
    }

    @Test(arguments: ["gvisor", "qemu"]) func allowedNamesWorkAndEveryEscapeIsRefused(runtime: String) async throws {
        try await NetworkedServer.with { net in
            let a = try await net.server.client.create(Self.body("net-a", runtime))
            let b = try await net.server.client.create(Self.body("net-b", runtime))
            #expect(a.runtime == runtime && b.runtime == runtime)
            if runtime == "qemu" {
                // The VMM runs in its workspace's namespace (no socket of the host's), and the
                // namespace's own stack holds no address: the guest's kernel does.
                #expect(try net.vmmNetworkNamespace(a.id) == net.namespaceInode(a.id))
                let inNamespace = try await HostCommand.run([HostCommand.which("ip") ?? "/usr/sbin/ip", "-n", NetworkedServer.prefix + "-" + a.id, "-4", "-o", "addr", "show", "eth0"])
                #expect(inNamespace.succeeded && inNamespace.stdout.isEmpty, "\(inNamespace.stdout)")
                // The tap is root's: no other uid in the namespace may attach to it.
                let owner = try await HostCommand.run([HostCommand.which("ip") ?? "/usr/sbin/ip", "netns", "exec", NetworkedServer.prefix + "-" + a.id,
                                                       "cat", "/sys/class/net/tap0/owner"])
                #expect(owner.stdout == "0\n", "\(owner.stdout) \(owner.stderr)")
            }
            // An allowed name resolves through Hearth's resolver and its server answers.
            let resolved = try await net.sh(a.id, "getent hosts allowed.example")
            #expect(resolved.stdoutText.hasPrefix(TestInternet.web), "\(resolved.stdoutText) \(resolved.stderrText)")
            let hello = try await net.curl(a.id, "http://allowed.example/")
            #expect(hello.code == 0 && hello.body == "hello from \(TestInternet.web)\n", "\(hello)")
            // A wildcard rule covers names under it.
            #expect(try await net.curl(a.id, "http://a.pkg.example/").body == "hello from 198.51.100.12\n")
            // Allowed on port 80 only: the same address on another TCP port is dropped.
            #expect(try await net.curl(a.id, "http://allowed.example:8080/").code == 28)
            // A name no rule lists: NXDOMAIN, and the question never left the host.
            let unlisted = try await net.sh(a.id, "getent hosts other.example")
            #expect(unlisted.code == 2, "\(unlisted.stdoutText)")
            #expect(try await net.dns(a.id, name: "other.example") == "rcode 3 answers 0")
            // The same over TCP, which some resolvers always use.
            #expect(try await net.dnsOverTCP(a.id, name: "allowed.example") == "rcode 0 answers 1")
            #expect(try await net.dnsOverTCP(a.id, name: "other.example") == "rcode 3 answers 0")
            // An IP literal nobody resolved, and a listed server's address without its name: dropped.
            #expect(try await net.curl(a.id, "http://\(TestInternet.unnamedWeb)/").code == 28)
            #expect(try await net.curl(a.id, "http://\(TestInternet.otherWeb)/").code == 28)
            // Cloud metadata (link-local), the host's uplink address and a private range: dropped.
            #expect(try await net.curl(a.id, "http://169.254.169.254/latest/meta-data/").code == 28)
            #expect(try await net.curl(a.id, "http://\(TestInternet.hostAddress)/").code == 28)
            let apiPort = URL(string: net.server.url)!.port!
            #expect(try await net.curl(a.id, "http://\(TestInternet.hostAddress):\(apiPort)/v1/health").code == 28)
            let gateway = try await net.sh(a.id, "awk '/nameserver/{print $2}' /etc/resolv.conf").stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await net.curl(a.id, "http://\(gateway):\(apiPort)/v1/health").code == 28)
            #expect(try await net.curl(a.id, "http://10.0.0.1/").code == 28)
            #expect(try await net.curl(a.id, "http://192.168.1.1/").code == 28)
            // Another workspace, on a port its agent or anything might serve.
            let other = try await net.address(b.id)
            #expect(other.hasPrefix("10.213."), "\(other)")
            #expect(try await net.curl(a.id, "http://\(other):22/").code == 28)
            // DNS to any server but Hearth's, even for an allowed name: no answer.
            #expect(try await net.dns(a.id, server: TestInternet.dnsServer, name: "allowed.example") == "timeout")
            // Tunnelling: TXT and a long label under names that are not allowed never reach upstream.
            let label = String(repeating: "x", count: 63)
            #expect(try await net.dns(a.id, name: "secretpayload.other.example", type: 16) == "rcode 3 answers 0")
            #expect(try await net.dns(a.id, name: "\(label).\(label).exfil.example", type: 1) == "rcode 3 answers 0")
            // An allowed name gets no TXT payload either.
            #expect(try await net.dns(a.id, name: "allowed.example", type: 16) == "rcode 0 answers 0")
            #expect(!net.internet.queries.contains { $0.contains("secretpayload") || $0.contains(label) || $0.hasPrefix("other.example") },
                    "\(net.internet.queries)")
            // DoH to an IP literal.
            #expect(try await net.curl(a.id, "http://\(TestInternet.dnsServer):443/dns-query").code == 28)
            // UDP: the allowed port answers, another port of the same allowed host does not.
            let udp = #"""
            import socket,sys
            s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(1.5)
            s.sendto(b"ping",(sys.argv[1],int(sys.argv[2])))
            try:
                print(s.recv(100).decode())
            except socket.timeout:
                print("timeout")
            """#
            #expect(try await net.sh(a.id, "python3 -c '\(udp)' \(TestInternet.web) 7777").stdoutText == "ping\n")
            #expect(try await net.sh(a.id, "python3 -c '\(udp)' \(TestInternet.web) 9999").stdoutText == "timeout\n")
            // ICMP to an allowed host: no reply. A raw socket where the guest's kernel allows one
            // (root in a microVM), else a ping socket (the socket may not even open).
            let icmp = #"""
            import socket,struct
            def checksum(b):
                t=sum(struct.unpack("!%dH"%(len(b)//2),b)); t=(t>>16)+(t&0xffff); t+=t>>16; return ~t&0xffff
            m=struct.pack("!BBHHH",8,0,0,1,1)+b"hearth"
            m=m[:2]+struct.pack("!H",checksum(m))+m[4:]
            for kind in (socket.SOCK_RAW,socket.SOCK_DGRAM):
                try:
                    s=socket.socket(socket.AF_INET,kind,socket.IPPROTO_ICMP); s.settimeout(1.5)
                except OSError:
                    continue
                try:
                    s.sendto(m,("198.51.100.10",0))
                    while True:
                        r=s.recv(200)
                        if kind==socket.SOCK_DGRAM or r[20]==0: print("reply"); break
                except Exception:
                    print("none")
                break
            else:
                print("none")
            """#
            #expect(try await net.sh(a.id, "python3 -c '\(icmp)'").stdoutText == "none\n")
            // IPv6: no route out.
            #expect(try await net.curl(a.id, "http://[2001:db8::10]/").code != 0)
            // The workspace changing its own address or routes gains nothing: the host side only
            // forwards packets from the address it assigned.
            _ = try await net.sh(a.id, "ip addr add 198.51.100.77/32 dev eth0; ip route add 203.0.113.80/32 dev eth0")
            #expect(try await net.curl(a.id, "http://allowed.example/", extra: "--interface 198.51.100.77").code != 0)
            #expect(try await net.curl(a.id, "http://\(TestInternet.unnamedWeb)/").code != 0)
            // Still working for what is allowed.
            #expect(try await net.curl(a.id, "http://allowed.example/").code == 0)
            if runtime == "qemu" {
                // A paused and resumed machine comes back on the same network, its address kept.
                let before = try await net.address(b.id)
                #expect(try await net.server.client.lifecycle(b.id, "pause").state == "paused")
                #expect(try await net.server.client.lifecycle(b.id, "resume").state == "running")
                #expect(try await net.address(b.id) == before)
                #expect(try await net.curl(b.id, "http://allowed.example/").code == 0)
            }
        }
    }

    @Test(arguments: ["gvisor", "qemu"]) func policyChangesApplyToARunningWorkspaceBothWaysAndOpenModeStopsAtTheAlwaysBlocked(runtime: String) async throws {
        try await NetworkedServer.with { net in
            let a = try await net.server.client.create(Self.body("net-policy", runtime))
            #expect(try await net.curl(a.id, "http://allowed.example/").code == 0)
            // The workspace narrows itself to *.pkg.example: allowed.example stops at once.
            var start = ContinuousClock.now
            let narrowed = try await net.server.client.setNetworkPolicy(a.id, API.NetworkLevelBody(rules: ["*.pkg.example:80"]))
            #expect(ContinuousClock.now - start < .seconds(1))
            #expect(narrowed.workspace.rules == ["*.pkg.example:80"])
            #expect(try await net.curl(a.id, "http://\(TestInternet.web)/").code == 28)
            #expect(try await net.sh(a.id, "getent hosts allowed.example").code == 2)
            // Asking for more than the server allows gains nothing.
            _ = try await net.server.client.setNetworkPolicy(a.id, API.NetworkLevelBody(rules: ["other.example:80"]))
            #expect(try await net.sh(a.id, "getent hosts other.example").code == 2)
            // Back to the tenant's policy: allowed again, at once.
            start = ContinuousClock.now
            _ = try await net.server.client.setNetworkPolicy(a.id, API.NetworkLevelBody())
            #expect(ContinuousClock.now - start < .seconds(1))
            #expect(try await net.curl(a.id, "http://allowed.example/").code == 0)
            // Open mode needs the operator's leave; then everything but the always-blocked answers.
            await #expect(throws: (any Error).self) {
                _ = try await net.server.client.setTenantNetworkPolicy(tenant: "default", API.NetworkLevelBody(mode: "open"))
            }
            try await net.networks.setOpenAllowed(true, tenant: Tenancy.defaultTenantID)
            _ = try await net.server.client.setTenantNetworkPolicy(tenant: "default", API.NetworkLevelBody(mode: "open"))
            #expect(try await net.server.client.networkPolicy(a.id).mode == "open")
            #expect(try await net.curl(a.id, "http://\(TestInternet.unnamedWeb)/").body == "hello from \(TestInternet.unnamedWeb)\n")
            #expect(try await net.curl(a.id, "http://other.example/").body == "hello from \(TestInternet.otherWeb)\n")
            #expect(try await net.curl(a.id, "http://169.254.169.254/").code == 28)
            #expect(try await net.curl(a.id, "http://10.0.0.1/").code == 28)
            #expect(try await net.curl(a.id, "http://\(TestInternet.hostAddress)/").code == 28)
            // The operator withdraws open mode: deny-all again at once.
            try await net.networks.setOpenAllowed(false, tenant: Tenancy.defaultTenantID)
            #expect(try await net.curl(a.id, "http://\(TestInternet.unnamedWeb)/").code == 28)
        }
    }

    @Test(arguments: ["gvisor", "qemu"]) func denialsAppearInTheNetlogAndSampledInTheAuditLog(runtime: String) async throws {
        try await NetworkedServer.with { net in
            let a = try await net.server.client.create(Self.body("net-log", runtime))
            _ = try await net.sh(a.id, "getent hosts other.example")
            _ = try await net.curl(a.id, "http://\(TestInternet.unnamedWeb)/")
            _ = try await net.curl(a.id, "http://allowed.example/")
            let log = try await net.server.client.netlog(a.id)
            #expect(log.denied_names >= 1)
            #expect(log.allowed_names >= 1)
            #expect(log.denied_packets >= 1)
            #expect(log.entries.contains { !$0.allowed && $0.kind == "dns" && $0.destination == "other.example" })
            #expect(log.entries.contains { !$0.allowed && $0.kind == "connection" && $0.destination == "\(TestInternet.unnamedWeb) tcp/80" },
                    "\(log.entries)")
            #expect(log.entries.contains { $0.allowed && $0.destination.hasPrefix("allowed.example") && $0.rule.contains("server: allowed.example:80") })
            let audit = try net.server.service.audit.events().filter { $0.action == "network.denied" }
            #expect(audit.contains { $0.target == a.id && $0.detail.contains("other.example") }, "\(audit.map(\.detail))")
            // Dropped connections are sampled into the audit log too (read from the host side every 2 s).
            let deadline = ContinuousClock.now + .seconds(10)
            var sampled = false
            while !sampled, ContinuousClock.now < deadline {
                sampled = try net.server.service.audit.events().contains {
                    $0.action == "network.denied" && $0.target == a.id && $0.detail.contains("connection \(TestInternet.unnamedWeb) tcp/80")
                }
                if !sampled { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(sampled)
            // The netlog is the caller's tenant's only.
            await #expect(throws: (any Error).self) { _ = try await net.server.client.netlog("ws_nosuchworkspace0000") }
        }
    }
}
