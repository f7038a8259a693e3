import ArgumentParser
import Foundation
import HearthAPI
import HearthClient

/// `hearth agent …`: agent sessions (issue 18).
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "AI agent sessions that work inside workspaces.",
        subcommands: [AgentRun.self, AgentList.self, AgentAttach.self, AgentSend.self, AgentCancel.self, AgentTranscriptCommand.self,
                      AgentSteps.self, AgentRewind.self, AgentFork.self, AgentRetentionCommand.self, AgentScrubRulesCommand.self,
                      AgentProviderSet.self, AgentProvidersCommand.self, AgentMyKeyCommand.self, AgentIdleTimeoutCommand.self])
}

/// The exit status of a turn's outcome: 0 completed, 130 cancelled, 2 a guard stopped it, 1 failed.
func agentExitCode(_ outcome: String) -> Int32 {
    switch outcome {
    case "completed": 0
    case "cancelled": 130
    case "budget_exceeded", "step_limit", "loop_detected": 2
    default: 1
    }
}

/// Prints a session's events as they come until the turn that follows `after` ends; returns its outcome.
func followTurn(_ c: HearthClient, _ id: String, after: Int64, untilTurnEnds: Bool = true) async throws -> String {
    var outcome = "failed"
    var sawBusy = false
    try await c.agentEvents(id, after: after) { event in
        let raw = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any] ?? [:]
        // The model's text and the tools' output are written by code nobody trusts: no escape
        // sequence of theirs reaches the user's terminal (an OSC 52 writes the clipboard).
        let fields = raw.mapValues { ($0 as? String).map(printableText) ?? $0 }
        switch event.type {
        case "message":
            if fields["role"] as? String == "assistant" {
                let end = (fields["partial"] as? Bool) == true ? "" : "\n"
                FileHandle.standardOutput.write(Data(((fields["text"] as? String ?? "") + end).utf8))
            } else {
                print("> \(fields["text"] as? String ?? "")")
            }
        case "tool_call":
            Terminal.error("[tool \(fields["name"] as? String ?? "")] \(fields["arguments"] as? String ?? "")")
        case "tool_result":
            let content = fields["content"] as? String ?? ""
            let first = content.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
            Terminal.error("[result\((fields["is_error"] as? Bool) == true ? " error" : "")] \(first)\(content.contains("\n") ? " …" : "")")
        case "error_event":
            Terminal.error("[error] \(fields["message"] as? String ?? "")")
        case "scrub":
            Terminal.error("[scrubbed \(fields["rule"] as? String ?? "")]")
        case "agent_busy":
            sawBusy = true
        case "agent_idle":
            outcome = fields["outcome"] as? String ?? "failed"
            if untilTurnEnds && (sawBusy || after > 0) { return false }
        case "checkpoint":
            let generation = (fields["generation"] as? Int).map { ", generation \($0)" } ?? ", no generation"
            Terminal.error("[step \(fields["step"] as? Int ?? 0)\(generation)]")
        case "rewind":
            Terminal.error("[rewound to step \(fields["step"] as? Int ?? 0)]")
        case "exit":
            outcome = "ended"
            return false
        default:
            break
        }
        return true
    }
    return outcome
}

struct AgentRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Start a session on a workspace, send a prompt, stream the turn; exit with its outcome.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace (id or name)") var workspace: String
    @Option(help: "Provider record name (set by a tenant admin)") var provider: String
    @Option(help: "Model") var model: String
    @Option(help: "System prompt") var system: String?
    @Option(help: "Token budget of the session") var budget: Int?
    @Option(name: .customLong("extra-fields"),
            help: "A JSON object merged into every request to the provider, e.g. '{\"parallel_tool_calls\":false}'") var extraFields: String?
    @Argument(help: "The prompt") var prompt: String

    func run() async throws {
        let extras = try extraFields.map(parseExtraFields)
        let c = try client.client()
        let outcome = try await withClientErrors {
            let session = try await c.createAgentSession(API.CreateAgentSessionBody(provider: provider, model: model, workspace: workspace,
                                                                                   system_prompt: system, budget_tokens: budget, extra_fields: extras))
            Terminal.error("session \(session.id)")
            let sent = try await c.sendAgentMessage(session.id, text: prompt)
            return try await followTurn(c, session.id, after: sent.seq)
        }
        if outcome != "completed" { Terminal.error("turn ended: \(outcome)") }
        throw ExitCode(agentExitCode(outcome))
    }
}

struct AgentList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List agent sessions.")
    @OptionGroup var client: ClientOptions
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let all = try await withClientErrors { try await c.agentSessions() }
        if json { return try Terminal.printJSON(all) }
        for s in all { print("\(s.id)  \(s.state.padding(toLength: 6, withPad: " ", startingAt: 0))  \(s.provider)/\(s.model)  workspace=\(s.workspace)") }
    }
}

struct AgentAttach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", abstract: "Stream a session's events from the start (or after --after) until interrupted.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Session id") var id: String
    @Option(help: "Resume after this event number") var after: Int64 = 0

    func run() async throws {
        let c = try client.client()
        _ = try await withClientErrors { try await followTurn(c, id, after: after, untilTurnEnds: false) }
    }
}

struct AgentSend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send", abstract: "Send a message and stream the turn; exit with its outcome.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Session id") var id: String
    @Argument(help: "The message") var text: String
    @Option(help: "Idempotency key (a retry with the same key sends nothing twice)") var idempotencyKey: String?

    func run() async throws {
        let c = try client.client()
        let outcome = try await withClientErrors {
            let sent = try await c.sendAgentMessage(id, text: text, idempotencyKey: idempotencyKey ?? UUID().uuidString)
            return try await followTurn(c, id, after: sent.seq)
        }
        throw ExitCode(agentExitCode(outcome))
    }
}

struct AgentCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel the running turn.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Session id") var id: String

    func run() async throws {
        let c = try client.client()
        let cancelled = try await withClientErrors { try await c.cancelAgentTurn(id) }
        print(cancelled ? "cancelled" : "no turn was running")
    }
}

struct AgentTranscriptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transcript", abstract: "Print a session's transcript.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Session id") var id: String
    @Option(help: "md or json") var format: String = "md"

    func run() async throws {
        let c = try client.client()
        switch format {
        case "md": print(try await withClientErrors { try await c.agentTranscriptMarkdown(id) })
        case "json": try Terminal.printJSON(try await withClientErrors { try await c.agentTranscript(id) })
        default: throw ValidationError("--format is md or json")
        }
    }
}

struct AgentProviderSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "provider", abstract: "Set a provider record of your tenant (tenant admins). The key is read from the environment variable --key-env names, never from the command line.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Record name") var name: String
    @Option(help: "openai or anthropic") var kind: String
    @Option(help: "Base URL, e.g. https://api.openai.com/v1") var baseURL: String
    @Option(help: "Environment variable holding the key") var keyEnv: String?
    @Option(name: .customLong("extra-fields"),
            help: "A JSON object merged into every request to this provider (a session's own extra fields win), e.g. '{\"parallel_tool_calls\":false}'")
    var extraFields: String?

    func run() async throws {
        let c = try client.client()
        let key = try keyEnv.map(keyFromEnvironment)
        let extras = try extraFields.map(parseExtraFields)
        let view = try await withClientErrors {
            try await c.setAgentProvider(name, API.AgentProviderBody(kind: kind, base_url: baseURL, api_key: key, extra_fields: extras))
        }
        printProvider(view)
    }
}

/// A provider key from the environment variable `name`: never from the command line, where `ps` shows it.
func keyFromEnvironment(_ name: String) throws -> String {
    guard let key = ProcessInfo.processInfo.environment[name], !key.isEmpty else { throw ValidationError("\(name) is not set") }
    return key
}

func parseExtraFields(_ text: String) throws -> [String: API.JSONValue] {
    guard let parsed = try? JSONDecoder().decode([String: API.JSONValue].self, from: Data(text.utf8)) else {
        throw ValidationError("--extra-fields must be a JSON object")
    }
    return parsed
}

func printProvider(_ view: API.AgentProviderView) {
    let extras = view.extra_fields.map { " extra_fields=\($0.keys.sorted().joined(separator: ","))" } ?? ""
    print("\(view.name)  \(view.kind)  \(view.base_url)  key=\(view.has_key ? "set" : "none")  my_key=\(view.has_my_key ? "set" : "none")\(extras)")
}

struct AgentProvidersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "providers", abstract: "List your tenant's provider records, and whether you set a key of your own for each.")
    @OptionGroup var client: ClientOptions
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let list = try await withClientErrors { try await c.agentProviders() }
        if json { return try Terminal.printJSON(list) }
        list.providers.forEach(printProvider)
    }
}

struct AgentMyKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "my-key", abstract: "Set (or --delete) your own key for a provider record: turns you start spend it instead of the tenant's. The key is read from the environment variable --key-env names, never from the command line.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Record name") var name: String
    @Option(help: "Environment variable holding the key") var keyEnv: String?
    @Option(help: "The address you allow your key to go to; it must be the record's (see `hearth agent providers`)") var baseURL: String?
    @Flag(help: "Delete your key; your turns go back to the tenant's") var delete = false

    func run() async throws {
        let c = try client.client()
        if delete {
            try await withClientErrors { try await c.deleteMyAgentProviderKey(name) }
            return print("\(name)  my_key=none")
        }
        guard let keyEnv, let baseURL else { throw ValidationError("give --key-env VAR and --base-url URL (or --delete)") }
        let key = try keyFromEnvironment(keyEnv)
        printProvider(try await withClientErrors { try await c.setMyAgentProviderKey(name, key: key, baseURL: baseURL) })
    }
}

/// `text` without C0 and C1 control characters other than newline and tab (ESC, BEL, CSI…), so a
/// guest's or a model's bytes print as text and never drive the terminal.
func printableText(_ text: String) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.filter { scalar in
        switch scalar.value {
        case 0x0A, 0x09: return true
        case 0x00...0x1F, 0x7F...0x9F: return false
        default: return true
        }
    }))
}
