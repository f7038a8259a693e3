import Foundation
import HearthRuntime

/// A small "internet" on this machine for the network tests: a namespace joined to the host by a
/// veth (`uplink`, 203.0.113.1 on the host, 203.0.113.2 inside), holding HTTP, UDP echo and DNS
/// servers at documentation addresses (`TestInternetServers`). Nothing in it routes anywhere else,
/// and the host routes only 198.51.100.0/24 into it, so no packet of a test reaches a real address.
///
/// Every name starts with `prefix`; `start()` first removes whatever a killed run left behind.
struct TestInternet: Sendable {
    static let prefix = "hti"
    static let namespace = "hti-inet"
    /// The host end: Hearth's `--uplink` in the tests.
    static let uplink = "htiup"
    static let inside = "htiin"
    static let hostAddress = "203.0.113.1"
    static let dnsServer = "198.51.100.53"
    static let web = "198.51.100.10"
    static let otherWeb = "198.51.100.11"
    /// A server the test DNS never names (an IP literal nobody resolved).
    static let unnamedWeb = "203.0.113.80"

    let state: String
    let pid: pid_t

    struct Failed: Error, CustomStringConvertible { var description: String }

    static func start() async throws -> TestInternet {
        await removeLeftovers()
        let state = NSTemporaryDirectory() + "hearth-internet-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try TestInternetServers.script.write(toFile: state + "/servers.py", atomically: true, encoding: .utf8)
        let ns = ["ip", "netns", "exec", namespace]
        for step in [
            ["ip", "netns", "add", namespace],
            ["ip", "link", "add", uplink, "type", "veth", "peer", "name", inside],
            ["ip", "link", "set", inside, "netns", namespace],
            ["ip", "addr", "add", hostAddress + "/24", "dev", uplink],
            ["ip", "link", "set", uplink, "up"],
            ns + ["ip", "link", "set", "lo", "up"],
            ns + ["ip", "addr", "add", "203.0.113.2/24", "dev", inside],
            ns + ["ip", "link", "set", inside, "up"],
            ns + ["ip", "addr", "add", "198.51.100.10/32", "dev", "lo"],
            ns + ["ip", "addr", "add", "198.51.100.11/32", "dev", "lo"],
            ns + ["ip", "addr", "add", "198.51.100.12/32", "dev", "lo"],
            ns + ["ip", "addr", "add", "198.51.100.13/32", "dev", "lo"],
            ns + ["ip", "addr", "add", "198.51.100.53/32", "dev", "lo"],
            ns + ["ip", "addr", "add", "203.0.113.80/32", "dev", "lo"],
            ["ip", "route", "replace", "198.51.100.0/24", "via", "203.0.113.2", "dev", uplink],
        ] {
            try await run(step)
        }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        let pid = try HostCommand.spawnDetached([HostCommand.which("ip") ?? "/usr/sbin/ip"] + ns.dropFirst() + ["/usr/bin/python3", state + "/servers.py", state], stdio: devNull,
                                                stderrFile: state + "/servers.log")
        let internet = TestInternet(state: state, pid: pid)
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: state + "/ready") {
            guard ContinuousClock.now < deadline else {
                await internet.stop()
                throw Failed(description: "the test internet's servers did not start: \((try? String(contentsOfFile: state + "/servers.log", encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return internet
    }

    /// The DNS questions the internet's server has received, as `name qtype` lines.
    var queries: [String] {
        ((try? String(contentsOfFile: state + "/queries.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func stop() async {
        kill(pid, SIGKILL)
        _ = await HostCommand.wait(pid)
        await Self.removeLeftovers()
        try? FileManager.default.removeItem(atPath: state)
    }

    /// Links and namespaces named with `prefix`, and whatever still runs in those namespaces.
    static func removeLeftovers() async {
        if let namespaces = try? await exec(["ip", "netns", "list"]) {
            for line in namespaces.stdout.split(separator: "\n") {
                guard let name = line.split(separator: " ").first.map(String.init), name.hasPrefix(prefix) else { continue }
                if let pids = try? await exec(["ip", "netns", "pids", name]) {
                    for pid in pids.stdout.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
                }
                _ = try? await exec(["ip", "netns", "del", name])
            }
        }
        if let links = try? await exec(["ip", "-o", "link", "show"]) {
            for line in links.stdout.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count > 1 else { continue }
                let name = String(fields[1].prefix { $0 != ":" && $0 != "@" })
                if name.hasPrefix(prefix) { _ = try? await exec(["ip", "link", "del", name]) }
            }
        }
        _ = try? await exec(["ip", "route", "del", "198.51.100.0/24"])
    }

    /// `argv` with its program found on PATH (posix_spawn needs a path).
    static func exec(_ argv: [String]) async throws -> HostCommand.Output {
        var argv = argv
        if !argv[0].hasPrefix("/") { argv[0] = HostCommand.which(argv[0]) ?? argv[0] }
        return try await HostCommand.run(argv, timeout: .seconds(10))
    }

    @discardableResult
    static func run(_ argv: [String]) async throws -> HostCommand.Output {
        let result = try await exec(argv)
        guard result.succeeded else { throw Failed(description: "\(argv.joined(separator: " ")): \(result.stderr)") }
        return result
    }
}
