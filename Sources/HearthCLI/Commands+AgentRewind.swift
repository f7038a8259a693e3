import ArgumentParser
import Foundation
import HearthAPI
import HearthClient

/// `hearth agent steps|rewind|fork`: go back to a step of a session, files and conversation together.
struct AgentSteps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "steps", abstract: "List the steps a session can be rewound or forked to.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Session id") var id: String

    func run() async throws {
        let c = try client.client()
        let steps = try await withClientErrors { try await c.agentSteps(id) }
        if steps.isEmpty { print("no steps yet (the first is recorded with the first message)"); return }
        print("STEP  KIND   EVENT  GENERATION  AT")
        for step in steps {
            let generation = step.generation.map(String.init) ?? "-"
            print("\(String(step.step).padding(toLength: 6, withPad: " ", startingAt: 0))\(step.kind.padding(toLength: 7, withPad: " ", startingAt: 0))"
                  + "\(String(step.seq).padding(toLength: 7, withPad: " ", startingAt: 0))\(generation.padding(toLength: 12, withPad: " ", startingAt: 0))"
                  + ISO8601DateFormatter().string(from: step.at))
        }
    }
}

struct AgentRewind: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewind",
        abstract: "Put a session's conversation and its workspace's files back to a step (the workspace restarts if it was running).")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Session id") var id: String
    @Argument(help: "Step (see hearth agent steps)") var step: Int

    func run() async throws {
        guard step >= 0 else { throw ValidationError("the step is 0 or more") }
        let c = try client.client()
        let rewound = try await withClientErrors { try await c.rewindAgentSession(id, step: step) }
        print("rewound to step \(rewound.step) (generation \(rewound.generation.map(String.init) ?? "-"))")
    }
}

struct AgentFork: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fork", abstract: "Start a new session and workspace from a step of this one; the original is not changed.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Session id") var id: String
    @Option(help: "The step to fork from (default: the latest)") var step: Int?

    func run() async throws {
        if let step, step < 0 { throw ValidationError("--step is 0 or more") }
        let c = try client.client()
        let forked = try await withClientErrors { try await c.forkAgentSession(id, step: step) }
        print("\(forked.id) on workspace \(forked.workspace)")
    }
}

struct AgentRetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Show or set (a tenant admin) what your tenant keeps of ended sessions: transcripts, or metadata only (content purged).")
    @OptionGroup var client: ClientOptions
    @Argument(help: "transcripts or metadata; absent: show the current one") var mode: String?

    func run() async throws {
        let c = try client.client()
        if let mode {
            guard ["transcripts", "metadata"].contains(mode) else { throw ValidationError("the mode is transcripts or metadata") }
            print(try await withClientErrors { try await c.setAgentRetention(mode) })
        } else {
            print(try await withClientErrors { try await c.agentRetention() })
        }
    }
}

struct AgentScrubRulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub-rules",
        abstract: "Show your tenant's own scrub rules, or replace them (a tenant admin) with a JSON file's array of {id, prefix, alphabet, min_length, max_length}.")
    @OptionGroup var client: ClientOptions
    @Option(help: "A JSON file holding the whole new set (an empty array clears it)") var set: String?

    func run() async throws {
        let c = try client.client()
        var rules: [API.AgentScrubRuleBody]
        if let set {
            guard let data = FileManager.default.contents(atPath: set), data.count <= 1 << 20,
                  let parsed = try? JSONDecoder().decode([API.AgentScrubRuleBody].self, from: data) else {
                throw ValidationError("--set names a JSON file holding an array of rules")
            }
            rules = try await withClientErrors { try await c.setAgentScrubRules(parsed) }
        } else {
            rules = try await withClientErrors { try await c.agentScrubRules() }
        }
        if rules.isEmpty { print("no rules of your tenant's own (the standard pack always applies)") }
        for rule in rules { print("\(rule.id)  \(rule.prefix)…  \(rule.alphabet) \(rule.min_length)-\(rule.max_length)") }
    }
}
