import ArgumentParser
import Foundation
import HearthAPI
import HearthClient

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a command in a workspace; stdin, stdout and stderr pass through, and its exit code is ours.")
    @OptionGroup var client: ClientOptions
    @Option(name: .customLong("env"), help: "KEY=VALUE, repeatable") var env: [String] = []
    @Option(help: "Working directory") var cwd: String?
    @Option(help: "User name or uid") var user: String?
    @Option(help: "Kill the command after this many seconds") var timeout: Double?
    @Argument(help: "Workspace id or name") var workspace: String
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments") var command: [String] = []

    func run() async throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard !argv.isEmpty else { throw ValidationError("name a command to run") }
        var environment: [String: String] = [:]
        for pair in env {
            guard let eq = pair.firstIndex(of: "=") else { throw ValidationError("--env takes KEY=VALUE") }
            environment[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        let body = API.ExecBody(argv: argv, env: environment, cwd: cwd, user: user, timeout_ms: timeout.map { UInt64($0 * 1000) })
        let c = try client.client()
        let exit = ExitBox()
        try await withClientErrors {
            try await c.interactive(workspace, body, input: { writer in
                try await StdinPump.forward(to: writer, closeWhenDone: true)
            }, onFrame: { kind, payload in
                switch kind {
                case .stdout: FileHandle.standardOutput.write(Data(payload))
                case .stderr: FileHandle.standardError.write(Data(payload))
                case .exit: exit.set((try? JSONDecoder().decode(ExecStream.Exit.self, from: Data(payload)))?.code ?? 1)
                case .error:
                    let error = try? JSONDecoder().decode(API.ErrorBody.self, from: Data(payload))
                    Terminal.error("hearth: \(error?.error.message ?? "exec failed")")
                    exit.set(error?.error.code == "not_found" ? 127 : 1)
                default: break
                }
            })
        }
        throw ExitCode(exit.value ?? 1)
    }
}

/// Copies stdin to an interactive exec on a thread of its own, so a blocking read never holds the pool.
enum StdinPump {
    static func forward(to writer: InteractiveWriter, closeWhenDone: Bool) async throws {
        let (chunks, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingOldest(16))
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                let n = read(0, &buffer, buffer.count)
                if n <= 0 { break }
                continuation.yield(Array(buffer[0..<n]))
            }
            continuation.finish()
        }
        thread.start()
        for await chunk in chunks { try await writer.stdin(chunk) }
        if closeWhenDone { try await writer.closeStdin() }
    }
}

final class ExitBox: @unchecked Sendable {
    private let lock = NSLock()
    private var code: Int32?
    func set(_ value: Int32) { lock.withLock { if code == nil { code = value } } }
    var value: Int32? { lock.withLock { code } }
}
