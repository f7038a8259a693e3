import Foundation
import HearthCore
import HearthNetwork
import Logging
import Testing

/// Many workspace networks at once, driven from their namespaces directly (no sandbox, so 50 fit
/// on a small host): each follows its own policy and nobody else's, and the operator's connection
/// cap holds.
@Suite(.serialized, .timeLimit(.minutes(5))) struct NetworkScaleTests {
    /// Resolves `names` through the gateway's resolver (argv[1]), then connects to each address in
    /// argv[3...]: prints `name=ADDRESS|nx|timeout` and `address=ok|dropped`.
    static let probe = #"""
    import socket,struct,sys
    gw=sys.argv[1]
    for name in sys.argv[2].split(","):
        s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
        m=struct.pack("!HHHHHH",7,0x0100,1,0,0,0)+b"".join(bytes([len(l)])+l.encode() for l in name.split("."))+b"\0"+struct.pack("!HH",1,1)
        s.sendto(m,(gw,53))
        try:
            r=s.recv(4096)
            print(name+"="+(socket.inet_ntoa(r[-4:]) if struct.unpack("!H",r[6:8])[0] else "nx"))
        except socket.timeout:
            print(name+"=timeout")
    for a in sys.argv[3:]:
        c=socket.socket(); c.settimeout(1)
        try:
            c.connect((a,80)); print(a+"=ok")
        except Exception:
            print(a+"=dropped")
    """#

    static func start(connectionLimit: Int? = nil, bandwidthMbit: Int? = nil,
                      serverRules: [String] = NetworkedServer.serverRules) async throws -> (WorkspaceNetworks, TestInternet, Task<Void, any Error>) {
        let internet = try await TestInternet.start()
        do {
            let (networks, running) = try await startNetworks(connectionLimit: connectionLimit, bandwidthMbit: bandwidthMbit, serverRules: serverRules)
            return (networks, internet, running)
        } catch {
            await internet.stop()
            throw error
        }
    }

    /// The network service alone, on a test internet already running, with its state in
    /// `stateDirectory` (a fresh one by default).
    static func startNetworks(connectionLimit: Int? = nil, bandwidthMbit: Int? = nil, serverRules: [String] = NetworkedServer.serverRules,
                              stateDirectory: String = NSTemporaryDirectory() + "hearth-net-scale-\(UUID().uuidString.prefix(8))")
        async throws -> (WorkspaceNetworks, Task<Void, any Error>) {
        var configuration = NetworkConfiguration(stateDirectory: stateDirectory)
        configuration.prefix = "htw"
        configuration.cidr = CIDR("10.214.0.0/16")
        configuration.uplink = TestInternet.uplink
        configuration.dnsUpstream = IPv4(TestInternet.dnsServer)
        configuration.connectionLimit = connectionLimit
        configuration.bandwidthMbit = bandwidthMbit
        configuration.serverPolicy = try LevelPolicy(mode: "deny-all", rules: serverRules)
        var logger = Logger(label: "hearth.test.network")
        logger.logLevel = .warning
        let networks = try await WorkspaceNetworks.start(configuration, logger: logger)
        // The resolver answers only while the service runs.
        return (networks, Task { try await networks.run() })
    }

    /// Runs `body` with a started network service on a test internet, then removes both, whether
    /// `body` threw or not.
    static func withNetworks(connectionLimit: Int? = nil, bandwidthMbit: Int? = nil, serverRules: [String] = NetworkedServer.serverRules,
                             _ body: (WorkspaceNetworks) async throws -> Void) async throws {
        let (networks, internet, running) = try await start(connectionLimit: connectionLimit, bandwidthMbit: bandwidthMbit, serverRules: serverRules)
        var failure: (any Error)?
        do {
            try await body(networks)
        } catch {
            failure = error
        }
        running.cancel()
        _ = await running.result
        await networks.shutdown()
        await internet.stop()
        if let failure { throw failure }
    }

    static func probe(_ ns: String, gateway: String, names: [String], connect: [String]) async throws -> [String: String] {
        let out = try await TestInternet.exec(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", probe, gateway, names.joined(separator: ",")] + connect)
        var result: [String: String] = [:]
        for line in out.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    @Test func fiftyWorkspacesEachFollowTheirOwnPolicy() async throws {
        try await Self.withNetworks { networks in
            let count = 50
            var attachments: [(id: String, ns: String, gateway: String)] = []
            for i in 0..<count {
                let id = "ws_scale\(i)"
                let a = try await networks.attach(workspace: id)
                try await networks.setWorkspacePolicy(id, try LevelPolicy(mode: nil, rules: [i % 2 == 0 ? "allowed.example:80" : "*.pkg.example:80"]))
                attachments.append((id, String(a.namespacePath.split(separator: "/").last!), a.nameserver))
            }
            // Every workspace resolves both names first, so that one workspace's answers are in the
            // host's sets before any other workspace tries the addresses.
            var resolved: [String: [String: String]] = [:]
            try await withThrowingTaskGroup(of: (String, [String: String]).self) { group in
                for (n, a) in attachments.enumerated() {
                    if n >= 8 { if let (id, r) = try await group.next() { resolved[id] = r } }
                    group.addTask { (a.id, try await Self.probe(a.ns, gateway: a.gateway, names: ["allowed.example", "a.pkg.example"], connect: [])) }
                }
                for try await (id, r) in group { resolved[id] = r }
            }
            var connected: [String: [String: String]] = [:]
            try await withThrowingTaskGroup(of: (String, [String: String]).self) { group in
                for (n, a) in attachments.enumerated() {
                    if n >= 8 { if let (id, r) = try await group.next() { connected[id] = r } }
                    group.addTask { (a.id, try await Self.probe(a.ns, gateway: a.gateway, names: [], connect: [TestInternet.web, "198.51.100.12"])) }
                }
                for try await (id, r) in group { connected[id] = r }
            }
            for (i, a) in attachments.enumerated() {
                let even = i % 2 == 0
                #expect(resolved[a.id]?["allowed.example"] == (even ? TestInternet.web : "nx"), "\(a.id): \(resolved[a.id] ?? [:])")
                #expect(resolved[a.id]?["a.pkg.example"] == (even ? "nx" : "198.51.100.12"), "\(a.id): \(resolved[a.id] ?? [:])")
                #expect(connected[a.id]?[TestInternet.web] == (even ? "ok" : "dropped"), "\(a.id): \(connected[a.id] ?? [:])")
                #expect(connected[a.id]?["198.51.100.12"] == (even ? "dropped" : "ok"), "\(a.id): \(connected[a.id] ?? [:])")
            }
            for a in attachments { await networks.detach(workspace: a.id) }
            let left = try await TestInternet.exec(["ip", "netns", "list"]).stdout
            #expect(!left.contains("htw-"), "detach removes every namespace: \(left)")
        }
        let tables = try await TestInternet.exec(["nft", "list", "tables"]).stdout
        #expect(!tables.contains("hearth_htw"), "shutdown removes the table: \(tables)")
    }

    @Test func theOperatorsConnectionCapHolds() async throws {
        try await Self.withNetworks(connectionLimit: 3) { networks in
            let a = try await networks.attach(workspace: "ws_cap")
            let ns = String(a.namespacePath.split(separator: "/").last!)
            let script = #"""
            import socket,struct,sys
            s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
            s.sendto(struct.pack("!HHHHHH",7,0x0100,1,0,0,0)+b"\x07allowed\x07example\x00\x00\x01\x00\x01",(sys.argv[1],53)); s.recv(512)
            held=[]; ok=0
            for i in range(6):
                c=socket.socket(); c.settimeout(1)
                try:
                    c.connect((sys.argv[2],80)); held.append(c); ok+=1
                except Exception:
                    pass
            print(ok)
            """#
            let out = try await TestInternet.exec(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", script, a.nameserver, TestInternet.web])
            #expect(out.stdout == "3\n", "\(out.stdout) \(out.stderr)")
        }
    }

    /// `--network-bandwidth-mbit` shapes a workspace's traffic (tc tbf on both ends of its veth):
    /// 4 MiB sent as fast as the workspace can (with a small send buffer, so the time counts what
    /// left) goes out at about the limit, not at the veth's gigabits. The first 256 KiB pass at
    /// once (the bucket's burst).
    @Test func theOperatorsBandwidthLimitHolds() async throws {
        try await Self.withNetworks(bandwidthMbit: 16, serverRules: ["\(TestInternet.web)/32:9000"]) { networks in
            let a = try await networks.attach(workspace: "ws_shaped")
            let ns = String(a.namespacePath.split(separator: "/").last!)
            let script = #"""
            import socket,sys,time
            c=socket.socket(); c.settimeout(8)
            c.setsockopt(socket.SOL_SOCKET,socket.SO_SNDBUF,1<<16)
            c.connect((sys.argv[1],9000))
            data=b"x"*(1<<16); total=4<<20; sent=0
            t=time.monotonic()
            while sent<total:
                c.sendall(data); sent+=len(data)
            print(sent*8/(time.monotonic()-t)/1e6)
            """#
            let out = try await TestInternet.exec(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", script, TestInternet.web])
            let mbit = Double(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            // 4 MiB at 16 Mbit/s is about 2.1 s; the burst lets the rate seem up to ~7% higher.
            #expect(mbit > 8 && mbit < 20, "sent at \(mbit) Mbit/s under a 16 Mbit/s limit: \(out.stdout) \(out.stderr)")
        }
    }

    @Test func policiesSurviveARestart() async throws {
        var configuration = NetworkConfiguration(stateDirectory: NSTemporaryDirectory() + "hearth-net-persist-\(UUID().uuidString.prefix(8))")
        configuration.prefix = "htw"
        configuration.cidr = CIDR("10.214.0.0/16")
        configuration.uplink = TestInternet.uplink
        configuration.dnsUpstream = IPv4(TestInternet.dnsServer)
        configuration.serverPolicy = try LevelPolicy(mode: "deny-all", rules: NetworkedServer.serverRules)
        var logger = Logger(label: "hearth.test.network")
        logger.logLevel = .warning
        let first = try await WorkspaceNetworks.start(configuration, logger: logger)
        try await first.setOpenAllowed(true, tenant: "tn_open")
        try await first.setTenantPolicy("tn_open", try LevelPolicy(mode: "open", rules: ["allowed.example:80"]))
        try await first.setWorkspacePolicy("ws_kept", try LevelPolicy(mode: nil, rules: ["*.pkg.example:80"]))
        await first.shutdown()
        let second = try await WorkspaceNetworks.start(configuration, logger: logger)
        let tenant = await second.tenantPolicy("tn_open")
        let workspace = await second.policy(for: "ws_kept").workspace
        await second.shutdown()
        #expect(tenant.mode == .open)
        #expect(tenant.rules?.map(\.description) == ["allowed.example:80"])
        #expect(workspace.rules?.map(\.description) == ["*.pkg.example:80"])
    }
}
