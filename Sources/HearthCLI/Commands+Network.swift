import ArgumentParser
import HearthAPI
import HearthClient

/// `hearth netlog WS`: a workspace's recent network decisions and its denial counts.
struct NetLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "netlog", abstract: "Show a workspace's recent allowed and denied destinations.")
    @OptionGroup var client: ClientOptions
    @Argument var workspace: String
    @Flag var json = false

    func run() async throws {
        let c = try client.client()
        let log = try await withClientErrors { try await c.netlog(workspace) }
        if json { return try Terminal.printJSON(log) }
        for entry in log.entries {
            print("\(entry.time) \(entry.allowed ? "allow" : "DENY ") \(entry.kind) \(entry.destination)  (\(entry.rule))")
        }
        print("denied names \(log.denied_names), allowed names \(log.allowed_names), dropped packets \(log.denied_packets)")
    }
}

/// `hearth network WS [--mode M] [--allow RULE ...] [--inherit]`: the policy in force and why, or
/// the workspace's own narrowing (it can only ask for less than its tenant allows).
struct NetworkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "network", abstract: "Show or narrow a workspace's network policy.")
    @OptionGroup var client: ClientOptions
    @Argument var workspace: String
    @Option(help: "deny-all or open") var mode: String?
    @Option(help: "A rule: NAME, *.NAME or CIDR, with [udp:] and :PORT[-PORT] (repeat)") var allow: [String] = []
    @Flag(help: "Drop the workspace's own rules and follow its tenant's") var inherit = false
    @Flag var json = false

    func run() async throws {
        let c = try client.client()
        let policy = try await withClientErrors {
            if inherit { return try await c.setNetworkPolicy(workspace, API.NetworkLevelBody()) }
            guard mode != nil || !allow.isEmpty else { return try await c.networkPolicy(workspace) }
            return try await c.setNetworkPolicy(workspace, API.NetworkLevelBody(mode: mode, rules: allow.isEmpty ? nil : allow))
        }
        if json { return try Terminal.printJSON(policy) }
        print("mode \(policy.mode)")
        for (level, body) in [("server", policy.server), ("tenant", policy.tenant), ("workspace", policy.workspace)] {
            print("\(level): mode \(body.mode ?? "inherit"), rules \(body.rules.map { $0.isEmpty ? "none" : $0.joined(separator: " ") } ?? "inherit")")
        }
        for network in policy.networks { print("network \(network.rule) because \(network.because.joined(separator: "; "))") }
    }
}
