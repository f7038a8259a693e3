import ArgumentParser
import HearthAPI
import HearthClient

struct AgentIdleTimeoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle-timeout", abstract: "Set how long a session may sit idle before it ends (300 to 604800 seconds).")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Session id") var id: String
    @Argument(help: "Seconds") var seconds: Int

    func run() async throws {
        let c = try client.client()
        let session = try await withClientErrors { try await c.setAgentSessionIdleTimeout(id, seconds: seconds) }
        print("\(session.id)  idle_timeout_seconds=\(session.idle_timeout_seconds)")
    }
}
