import Foundation
import HearthAPI
import HearthNetwork
import HearthRuntime
import HearthServerTestKit
import Testing

/// Figures for BENCHMARKS.md at the level of a real gVisor workspace (`HEARTH_NETWORK_BENCH=1`),
/// each against its peer in the same run: raw runsc with `--network=sandbox` in an unfiltered
/// namespace (same veth and NAT, no filter, no resolver) for throughput and connection set-up,
/// and the same server with networking off for idle memory.
extension NetworkBenchmarks {
    /// An unfiltered namespace with a veth and NAT to the test internet.
    static let peerSteps = [
        "ip netns add hb-rpeer", "ip link add hbrpeer type veth peer name eth0 netns hb-rpeer",
        "ip addr add 10.216.0.1/30 dev hbrpeer", "ip link set hbrpeer up", "ip -n hb-rpeer addr add 10.216.0.2/30 dev eth0",
        "ip -n hb-rpeer link set eth0 up", "ip -n hb-rpeer link set lo up", "ip -n hb-rpeer route add default via 10.216.0.1",
        "sysctl -qw net.ipv4.conf.hbrpeer.forwarding=1",
        "nft add table ip hbrpeer_nat", "nft add chain ip hbrpeer_nat post { type nat hook postrouting priority srcnat ; }",
        "nft add rule ip hbrpeer_nat post ip saddr 10.216.0.0/30 oifname \(TestInternet.uplink) masquerade",
    ]

    /// Runs `measure` with `args` in a raw runsc sandbox on the image's root, in the peer namespace,
    /// started as Hearth starts runsc with networking on (the same /proc/sys/net mask).
    static func rawRunsc(_ args: [String], rootfs: String, state: String) async throws -> String {
        let bundle = state + "/bundle-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        let spec: [String: Any] = [
            "ociVersion": "1.0.2",
            "process": ["terminal": false, "user": ["uid": 0, "gid": 0], "args": ["/usr/bin/python3", "-c", measure] + args,
                        "env": ["PATH=/usr/bin:/bin"], "cwd": "/"],
            "root": ["path": rootfs, "readonly": true],
            "mounts": [["destination": "/proc", "type": "proc", "source": "proc"], ["destination": "/tmp", "type": "tmpfs", "source": "tmpfs"]],
            "linux": ["namespaces": [["type": "pid"], ["type": "network", "path": "/run/netns/hb-rpeer"], ["type": "ipc"], ["type": "uts"], ["type": "mount"]],
                      // A workspace's default limits: 1 CPU, 1 GiB (the netstack's throughput is CPU-bound).
                      "resources": ["memory": ["limit": 1 << 30], "cpu": ["quota": 100_000, "period": 100_000]]],
        ]
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        // runsc took the address off the interface the last time: put it back, as Hearth does.
        for step in ["ip -n hb-rpeer addr replace 10.216.0.2/30 dev eth0", "ip -n hb-rpeer route replace default via 10.216.0.1"] {
            try await TestInternet.run(step.split(separator: " ").map(String.init))
        }
        let runsc = HostCommand.which("runsc") ?? "/usr/bin/runsc"
        let id = "hb-rpeer-\(UUID().uuidString.prefix(6).lowercased())"
        let out = try await HostCommand.run(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                                             "mount -t tmpfs -o size=4k,mode=0555 hearth-mask /proc/sys/net && exec \"$0\" \"$@\"",
                                             runsc, "--root", state + "/runsc", "--platform", "ptrace", "--network", "sandbox",
                                             "run", "--bundle", bundle, id], timeout: .seconds(300))
        _ = try? await HostCommand.run([runsc, "--root", state + "/runsc", "delete", "--force", id])
        return out.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + (out.succeeded ? "" : " (failed: \(out.stderr.suffix(300)))")
    }

    static func imageRootfs() throws -> String {
        let images = (ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"] ?? "") + "/images"
        for name in try FileManager.default.contentsOfDirectory(atPath: images) where name.hasPrefix("sha256-") {
            if FileManager.default.fileExists(atPath: "\(images)/\(name)/rootfs/usr/bin/python3") { return "\(images)/\(name)/rootfs" }
        }
        throw CocoaError(.fileNoSuchFile)
    }

    @Test func aWorkspaceAgainstRawRunscWithItsOwnNetwork() async throws {
        let state = NSTemporaryDirectory() + "hearth-net-rbench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: state + "/runsc", withIntermediateDirectories: true)
        var report: [String] = []
        try await NetworkedServer.with(rules: ["\(TestInternet.web)/32:80", "\(TestInternet.web)/32:9000", "allowed.example:80"]) { net in
            do {
                for step in Self.peerSteps { try await TestInternet.run(step.split(separator: " ").map(String.init)) }
                let w = try await net.server.client.create(API.CreateWorkspaceBody(name: "net-bench"))
                func inWorkspace(_ args: [String]) async throws -> String {
                    let r = try await net.server.client.run(w.id, ["python3", "-c", Self.measure] + args)
                    return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) + (r.code == 0 ? "" : " (failed: \(r.stderrText.suffix(200)))")
                }
                let rootfs = try Self.imageRootfs()
                for round in 1...3 {
                    report.append("round \(round) TCP connect x200, workspace through the policy: " + (try await inWorkspace(["connect", TestInternet.web, "200"])))
                    report.append("round \(round) TCP connect x200, raw runsc unfiltered: " + (try await Self.rawRunsc(["connect", TestInternet.web, "200"], rootfs: rootfs, state: state)))
                    report.append("round \(round) TCP throughput 256 MiB, workspace through the policy: " + (try await inWorkspace(["throughput", TestInternet.web, "256"])))
                    report.append("round \(round) TCP throughput 256 MiB, raw runsc unfiltered: " + (try await Self.rawRunsc(["throughput", TestInternet.web, "256"], rootfs: rootfs, state: state)))
                }
                let gateway = try await net.sh(w.id, "awk '/nameserver/{print $2}' /etc/resolv.conf").stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
                // Within the resolver's budget (bursts of 200 questions): beyond it they are dropped.
                let cached = Array(repeating: "allowed.example", count: 151).joined(separator: ",")
                report.append("DNS cached x150, from the workspace: " + (try await inWorkspace(["dns", gateway, cached])))
                try await net.server.client.delete(w.id)
            } catch {
                report.append("failed: \(error)")
            }
            _ = try? await TestInternet.exec(["ip", "netns", "del", "hb-rpeer"])
            _ = try? await TestInternet.exec(["nft", "delete", "table", "ip", "hbrpeer_nat"])
        }
        try? FileManager.default.removeItem(atPath: state)
        print("NETWORK BENCHMARK\n" + report.joined(separator: "\n"))
    }

    /// PSS of the sandboxes' processes (runsc's sandbox, gofer and their children), per workspace.
    static func sandboxPSSMiB(dataDirectory: String, count: Int) -> Double {
        var total = 0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where entry.allSatisfy(\.isNumber) {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains(dataDirectory + "/runsc"),
                  let rollup = try? String(contentsOfFile: "/proc/\(entry)/smaps_rollup", encoding: .utf8),
                  let line = rollup.split(separator: "\n").first(where: { $0.hasPrefix("Pss:") }),
                  let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { continue }
            total += kib
        }
        return Double(total) / 1024 / Double(count)
    }

    @Test func idleDensityWithAndWithoutNetworking() async throws {
        let count = 10
        func measure(_ server: LiveServer) async throws -> Double {
            var ids: [String] = []
            for i in 0..<count { ids.append(try await server.client.create(API.CreateWorkspaceBody(name: "idle-\(i)")).id) }
            // Settled: every sandbox booted and idle.
            try await Task.sleep(for: .seconds(5))
            let pss = Self.sandboxPSSMiB(dataDirectory: server.dataDirectory, count: count)
            for id in ids { try await server.client.delete(id) }
            return pss
        }
        var on: [Double] = []
        var off: [Double] = []
        for _ in 0..<2 {
            try await NetworkedServer.with { net in on.append(try await measure(net.server)) }
            let plain = try await LiveServer.start()
            off.append(try await measure(plain))
            await plain.stop()
        }
        print("NETWORK BENCHMARK idle PSS MiB per workspace (\(count) workspaces, 2 rounds): networking on \(on.map { String(format: "%.1f", $0) }), off \(off.map { String(format: "%.1f", $0) })")
    }
}
