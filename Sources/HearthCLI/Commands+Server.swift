public import ArgumentParser
import HearthNetwork
import Foundation
import HearthControlPlane
import HearthCore
import HearthHost
public import HearthQEMU
import HearthRuntime
import HearthServer
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Hearth server.")

    @Option(help: "Data directory (default: $HEARTH_DATA, /var/lib/hearth as root)")
    var data: String?

    @Option(help: "Address to listen on, HOST:PORT")
    var listen: String = "127.0.0.1:7070"

    @Option(help: "Sandboxes of the default image kept booted for instant creates (0 disables)")
    var warmPool: Int = 0

    @Option(help: "gVisor platform: ptrace works everywhere; systrap or kvm where supported")
    var gvisorPlatform: String = "ptrace"

    @Option(help: "QEMU acceleration: auto (KVM if a probe guest boots in time, else TCG), kvm or tcg")
    var qemuAcceleration: QEMUConfiguration.Acceleration = .auto

    @Option(help: "microVM memory: anonymous (a pause copies RAM into the snapshot) or file (RAM is a shared file in the workspace's directory; a pause saves device state only)")
    var qemuMemory: QEMUConfiguration.MemoryBackend = .sharedFile

    @Option(help: "Seconds a microVM may take to boot before it is failed (default: 20 with KVM, 90 with TCG)")
    var qemuBootTimeout: Double?

    @Option(help: "Log level: trace, debug, info, notice, warning, error")
    var logLevel: String = "info"

    @Option(help: "The https:// URL browsers use when a TLS proxy fronts the server (makes the session cookie __Host- and Secure)")
    var publicURL: String?

    @Option(name: .customLong("image-import-dir"),
            help: "Directory the operator imports OCI layouts from, as image oci:NAME (default: DATA/imports)")
    var imageImportDirectory: String?
    @Option(help: "Serve previews from their own origins, {workspace}-{port}.DOMAIN (needs a wildcard DNS name, and behind TLS a wildcard certificate, for *.DOMAIN); DOMAIN may carry a port, e.g. preview.localhost:7070")
    var previewDomain: String?

    @Option(name: .customLong("trusted-proxy"),
            help: "A proxy (CIDR, repeatable) whose X-Forwarded-For names the client; from anyone else the header is ignored")
    var trustedProxies: [String] = []

    @Option(name: .customLong("agent-provider-allow"),
            help: "An address range (CIDR, repeatable) that agent providers' base URLs may reach although it is loopback, private or link-local, e.g. a self-hosted model")
    var agentProviderAllow: [String] = []

    @Option(name: .customLong("agent-max-running-turns"),
            help: "Agent turns one tenant may have running at once; a send beyond it gets 429 too_many_running_turns")
    var agentMaxRunningTurns: Int = 8

    @Option(name: .customLong("agent-keepalive"),
            help: "Seconds of silence after which an agent event stream gets a keepalive comment (at least 1; proxies cut quiet streams)")
    var agentKeepalive: Int = 15

    @Option(help: "Seconds a new connection has to send its first request head")
    var headerTimeout: Double = 30

    @Option(help: "Seconds a keep-alive connection or a stalled request body may stay idle")
    var idleTimeout: Double = 120

    @Option(help: "Open connections allowed per client address (trusted proxies are exempt)")
    var maxConnectionsPerAddress: Int = 256

    /// 600/s per credential lets one credential take about a seventh of what one server answers
    /// (4,500 authenticated req/s on 2 cores, BENCHMARKS.md) while no interactive client comes near
    /// it. For comparison: Coder's `--api-rate-limit` defaults to 512 per minute per user, GitHub's
    /// REST API allows 5,000 per hour per token (and 900 points per minute per endpoint).
    @Option(help: "API requests per second allowed per token or session (bursts of twice that), and twice that per client address; 0 turns both off")
    var rateLimit: Double = 600

    @Option(help: "Durable store of workspaces' volumes and keys: file:///abs/path or s3://BUCKET/PREFIX?endpoint=URL (default: file://DATA/store)")
    var store: String?
    @Option(name: .customLong("kek-file"),
            help: "Key-encryption key of the store (default: DATA/kek, made on first start; keep a copy away from the data directory)")
    var kekFile: String?
    @Option(name: .customLong("commit-interval"),
            help: "Seconds between commits of each running workspace's state to the store; 0 commits only on pause, stop and sync")
    var commitInterval: Int = 60

    @Option(help: "Workspace networking: off (no network device, as before) or on (a namespace, Hearth's resolver and a default-deny egress filter per workspace)")
    var network: String = "off"
    @Option(help: "Host interface egress leaves by (default: the default route's)")
    var uplink: String?
    @Option(help: "Workspaces' addresses, e.g. 10.88.0.0/16 (default: a free /16 of 10.0.0.0/8)")
    var networkCidr: String?
    @Option(help: "The DNS server allowed names are resolved with (default: /etc/resolv.conf's first IPv4)")
    var dnsUpstream: String?
    @Option(name: .customLong("network-allow"), help: "A rule every workspace may use: NAME, *.NAME, CIDR, with [udp:] and :PORT[-PORT] (repeat)")
    var networkAllow: [String] = []
    @Option(name: .customLong("network-open-tenant"), help: "A tenant (id) whose admins may choose open mode (repeat)")
    var networkOpenTenants: [String] = []
    @Option(name: .customLong("network-allow-private"), help: "A private range workspaces may reach if their policy allows it (repeat)")
    var networkAllowPrivate: [String] = []
    @Option(help: "Concurrent connections per workspace (default: no cap)")
    var networkMaxConnections: Int?
    @Option(help: "Bandwidth per workspace each way, Mbit/s (default: no limit)")
    var networkBandwidthMbit: Int?

    func networkConfiguration(dataDirectory: String) throws -> NetworkConfiguration? {
        guard network == "on" else {
            guard network == "off" else { throw ValidationError("--network is on or off") }
            return nil
        }
        var config = NetworkConfiguration(stateDirectory: dataDirectory + "/network")
        config.uplink = uplink
        if let networkCidr {
            guard let cidr = CIDR(networkCidr) else { throw ValidationError("--network-cidr is a network such as 10.88.0.0/16") }
            config.cidr = cidr
        }
        if let dnsUpstream {
            guard let address = IPv4(dnsUpstream) else { throw ValidationError("--dns-upstream is an IPv4 address") }
            config.dnsUpstream = address
        }
        config.serverPolicy = try LevelPolicy(mode: "deny-all", rules: networkAllow)
        config.openTenants = Set(networkOpenTenants)
        config.allowedPrivate = try networkAllowPrivate.map {
            guard let cidr = CIDR($0) else { throw ValidationError("--network-allow-private takes a network such as 10.1.0.0/16") }
            return cidr
        }
        config.connectionLimit = networkMaxConnections.map { max(1, $0) }
        config.bandwidthMbit = networkBandwidthMbit.map { max(1, $0) }
        return config
    }

    func run() async throws {
        if let previewDomain, previewDomain.isEmpty || previewDomain.contains("/") || previewDomain.hasPrefix(".") {
            throw ValidationError("--preview-domain is a domain such as preview.hearth.example.com")
        }
        for proxy in trustedProxies where CIDRCheck.isValid(proxy) == false {
            throw ValidationError("--trusted-proxy takes an address range such as 10.0.0.0/8 or ::1/128, not \(proxy)")
        }
        for range in agentProviderAllow where CIDRCheck.isValid(range) == false {
            throw ValidationError("--agent-provider-allow takes an address range such as 10.0.0.0/8, not \(range)")
        }
        guard (1...10_000).contains(agentMaxRunningTurns) else { throw ValidationError("--agent-max-running-turns is 1 to 10000") }
        guard (1...3600).contains(agentKeepalive) else { throw ValidationError("--agent-keepalive is 1 to 3600 seconds") }
        guard (0...86_400).contains(commitInterval) else { throw ValidationError("--commit-interval is 0 to 86400 seconds") }
        guard headerTimeout > 0, idleTimeout > 0, maxConnectionsPerAddress > 0 else {
            throw ValidationError("timeouts and the connection cap must be positive")
        }
        guard rateLimit >= 0, rateLimit <= 1e9 else { throw ValidationError("--rate-limit is a number of requests per second, or 0 for none") }
        if let publicURL, !(publicURL.hasPrefix("https://") || publicURL.hasPrefix("http://")) {
            throw ValidationError("--public-url is a URL such as https://hearth.example.com")
        }
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--listen takes HOST:PORT")
        }
        let host = String(listen[..<colon])
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "hearth")
        let environment = ProcessInfo.processInfo.environment
        // Host commands search this PATH and get a minimal environment, never the server's own.
        HostCommand.configure(HostCommand.Environment(host: environment))
        // runsc's detached sandboxes are re-parented to the server and reaped at once.
        if !HostCommand.reapChildren() { logger.warning("cannot become a child subreaper; stopped sandboxes are reaped by PID 1") }
        var configuration = HearthServerConfiguration(
            dataDirectory: data ?? HearthServerConfiguration.defaultDataDirectory(hearthData: environment["HEARTH_DATA"]),
            host: host, port: port, warmPoolSize: warmPool)
        configuration.publicURL = publicURL
        configuration.imageImportDirectory = imageImportDirectory ?? configuration.dataDirectory + "/imports"
        configuration.previewDomain = previewDomain
        configuration.webDirectory = environment["HEARTH_WEB_DIR"]
        configuration.limits.trustedProxies = trustedProxies
        configuration.agents.providerHostsAllowed = agentProviderAllow
        configuration.agents.maxRunningTurnsPerTenant = agentMaxRunningTurns
        configuration.agents.keepaliveInterval = .seconds(agentKeepalive)
        configuration.commitInterval = commitInterval == 0 ? nil : .seconds(commitInterval)
        configuration.prepareBaseImage = true
        configuration.limits.headerTimeout = .milliseconds(Int(min(headerTimeout, 86_400) * 1000))
        configuration.limits.idleTimeout = .milliseconds(Int(min(idleTimeout, 86_400) * 1000))
        configuration.limits.maxConnectionsPerAddress = maxConnectionsPerAddress
        configuration.limits.perCredential = RateRule(burst: rateLimit * 2, perSecond: rateLimit)
        configuration.limits.perAddress = RateRule(burst: rateLimit * 4, perSecond: rateLimit * 2)
        var runtimes = HostRuntimes(dataDirectory: configuration.dataDirectory,
                                    agentDirectory: AgentBundle.locate(configured: environment["HEARTH_AGENT_DIR"]).directory)
        runtimes.gvisorPlatform = gvisorPlatform
        runtimes.qemuAcceleration = qemuAcceleration
        runtimes.qemuMemory = qemuMemory
        runtimes.qemuBootTimeout = qemuBootTimeout.map { .milliseconds(Int(min(max($0, 0), 86_400) * 1000)) }
        var networks: WorkspaceNetworks?
        if let network = try networkConfiguration(dataDirectory: configuration.dataDirectory) {
            networks = try await WorkspaceNetworks.start(network, logger: logger)
        } else {
            // An earlier run with networking on left its networks to be adopted; nothing will.
            await WorkspaceNetworks.removeEarlierRun(NetworkConfiguration(stateDirectory: configuration.dataDirectory + "/network"), logger: logger)
        }
        runtimes.networking = networks
        configuration.workspaceVolumes = try await DurableStore.open(
            DurableStoreConfiguration(dataDirectory: configuration.dataDirectory, storeURL: store, kekFile: kekFile),
            environment: environment, logger: logger)
        let service = try await HearthService.make(configuration, runtimes: try await runtimes.probe(logger: logger), logger: logger,
                                                   network: networks)
        try await service.run { port in
            logger.notice("listening", metadata: ["http.url": "http://\(host):\(port)", "auth.token_file": "\(service.tokenPath)",
                                                  "auth.password_file": "\(service.configuration.dataDirectory)/admin.password"])
        }
    }
}

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Say which sandbox runtimes work on this host, and why not.")

    @Option(help: "Data directory whose runsc state to use")
    var data: String?

    @Option(help: "gVisor platform to probe")
    var gvisorPlatform: String = "ptrace"

    @Option(help: "QEMU acceleration to probe: auto, kvm or tcg")
    var qemuAcceleration: QEMUConfiguration.Acceleration = .auto

    @Flag(help: "Print JSON")
    var json = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        HostCommand.configure(HostCommand.Environment(host: environment))
        let dataDir = data ?? HearthServerConfiguration.defaultDataDirectory(hearthData: environment["HEARTH_DATA"])
        var logger = Logger(label: "hearth.doctor")
        logger.logLevel = .error
        // The same drivers `serve` builds, so the answer is the server's.
        var runtimes = HostRuntimes(dataDirectory: dataDir, agentDirectory: AgentBundle.locate(configured: environment["HEARTH_AGENT_DIR"]).directory)
        runtimes.gvisorPlatform = gvisorPlatform
        runtimes.qemuAcceleration = qemuAcceleration
        let registry = try await runtimes.probe(logger: logger)
        let results = RuntimeKind.allCases.compactMap { registry.availability[$0] }
        let best = registry.defaultRuntime
        if json {
            try Terminal.printJSON(["runtimes": results.map { ["runtime": $0.runtime.rawValue, "available": "\($0.available)", "mode": $0.mode ?? "", "reason": $0.reason] },
                                    "default": [["runtime": best?.rawValue ?? "none"]]])
        } else {
            for r in results {
                // QEMU's status is its acceleration mode: a TCG microVM works but is slow.
                let status = r.available ? (r.runtime == .qemu ? (r.mode ?? "ok") : "ok") : "unavailable"
                print("\(r.runtime.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(status.padding(toLength: 12, withPad: " ", startingAt: 0)) \(r.mode.map { "[\($0)] " } ?? "")\(r.reason)")
            }
            print("default: \(best?.rawValue ?? "none — no runtime works here")")
        }
        if best == nil { throw ExitCode(1) }
    }
}

/// Lets `--qemu-acceleration` parse straight into the runtime's own type.
extension QEMUConfiguration.Acceleration: ExpressibleByArgument {}
extension QEMUConfiguration.MemoryBackend: ExpressibleByArgument {}

/// Validates `--trusted-proxy` before the server starts (the server checks again).
enum CIDRCheck {
    static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first else { return false }
        var v4 = in_addr(), v6 = in6_addr()
        let bits: Int
        if inet_pton(AF_INET, String(first), &v4) == 1 { bits = 32 } else if inet_pton(AF_INET6, String(first), &v6) == 1 { bits = 128 } else { return false }
        guard parts.count == 2 else { return true }
        return Int(parts[1]).map { (0...bits).contains($0) } ?? false
    }
}
