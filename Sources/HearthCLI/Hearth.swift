import ArgumentParser
import Foundation
import HearthAPI
import HearthClient

@main
struct Hearth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hearth",
        abstract: "Isolated, durable Linux workspaces.",
        discussion: "Client commands talk to the server at HEARTH_URL (default http://127.0.0.1:7070) with HEARTH_TOKEN (default: the server's admin.token).",
        subcommands: [Serve.self, Doctor.self, Create.self, SetSettings.self, List.self, Exec.self, Shell.self, Copy.self,
                      Pause.self, Resume.self, Stop.self, Start.self, Delete.self, Sync.self, History.self, Rollback.self, Fork.self, RestoreFile.self, Ports.self, PortForward.self, VolumeCommand.self,
                      Login.self, TenantCommand.self, UserCommand.self, SessionCommand.self, TokenCommand.self, AuditCommand.self,
                      NetLogCommand.self, NetworkCommand.self, AgentCommand.self, KEKCommand.self])
}

/// Where the CLI finds the server and its token.
struct ClientOptions: ParsableArguments {
    @Option(name: .customLong("url"), help: "Server URL (default: $HEARTH_URL or http://127.0.0.1:7070)")
    var url: String?

    /// A client with the first credential found: `HEARTH_TOKEN`, the token `hearth login` saved
    /// for this server, or the local server's `admin.token`.
    func client(authenticated: Bool = true) throws -> HearthClient {
        let env = ProcessInfo.processInfo.environment
        let base = url ?? env["HEARTH_URL"] ?? "http://127.0.0.1:7070"
        guard authenticated else { return HearthClient(baseURL: base, token: nil) }
        var token = env["HEARTH_TOKEN"]
        if token == nil || token!.isEmpty, let saved = Credentials.load(), saved.url == base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) || saved.url == base {
            token = saved.token
        }
        if token == nil || token!.isEmpty {
            let data = env["HEARTH_DATA"].flatMap { $0.isEmpty ? nil : $0 } ?? (getuid() == 0 ? "/var/lib/hearth" : NSHomeDirectory() + "/.local/share/hearth")
            token = (try? String(contentsOfFile: data + "/admin.token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return HearthClient(baseURL: base, token: token)
    }
}

/// Runs a client call, turning failures into a message on stderr and exit code 1.
func withClientErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let failure as HearthClient.Failure {
        Terminal.error("hearth: \(failure.message)")
        throw ExitCode(failure.code == "unreachable" ? 69 : 1)
    }
}

enum Terminal {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static var stderrIsTTY: Bool { isatty(2) == 1 }

    /// Shows `message…` on a terminal while `body` runs, then how long it took.
    static func progress<T>(_ message: String, _ body: () async throws -> T) async throws -> T {
        guard stderrIsTTY else { return try await body() }
        FileHandle.standardError.write(Data("\(message)…".utf8))
        let start = ContinuousClock.now
        do {
            let value = try await body()
            let elapsed = ContinuousClock.now - start
            FileHandle.standardError.write(Data(" done (\(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))))\n".utf8))
            return value
        } catch {
            FileHandle.standardError.write(Data(" failed\n".utf8))
            throw error
        }
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = API.encoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
