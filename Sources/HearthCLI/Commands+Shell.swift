import ArgumentParser
@preconcurrency import Dispatch
import Foundation
import HearthAPI
import HearthClient

struct Shell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open an interactive shell in a workspace.")
    @OptionGroup var client: ClientOptions
    @Option(help: "User name or uid") var user: String?
    @Argument(help: "Workspace id or name") var workspace: String

    func run() async throws {
        let c = try client.client()
        let size = RawTerminal.size()
        let body = API.ExecBody(argv: ["/bin/sh", "-c", "if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi"],
                                env: ["TERM": ProcessInfo.processInfo.environment["TERM"] ?? "xterm-256color"], user: user,
                                pty: API.PTY(rows: size.rows, cols: size.cols))
        let raw = RawTerminal.enable()
        defer { raw?.restore() }
        let exit = ExitBox()
        try await withClientErrors {
            try await c.interactive(workspace, body, input: { writer in
                let resizes = RawTerminal.windowChanges()
                Task {
                    for await _ in resizes {
                        let s = RawTerminal.size()
                        try? await writer.resize(rows: s.rows, cols: s.cols)
                    }
                }
                try await StdinPump.forward(to: writer, closeWhenDone: false)
            }, onFrame: { kind, payload in
                switch kind {
                case .stdout, .stderr: FileHandle.standardOutput.write(Data(payload))
                case .exit: exit.set((try? JSONDecoder().decode(ExecStream.Exit.self, from: Data(payload)))?.code ?? 1)
                case .error:
                    let error = try? JSONDecoder().decode(API.ErrorBody.self, from: Data(payload))
                    Terminal.error("\r\nhearth: \(error?.error.message ?? "shell failed")")
                    exit.set(1)
                default: break
                }
            })
        }
        raw?.restore()
        throw ExitCode(exit.value ?? 0)
    }
}

/// The local terminal in raw mode for the length of a shell.
struct RawTerminal {
    let saved: termios

    static func enable() -> RawTerminal? {
        guard isatty(0) == 1 else { return nil }
        var original = termios()
        guard tcgetattr(0, &original) == 0 else { return nil }
        var raw = original
        cfmakeraw(&raw)
        tcsetattr(0, TCSANOW, &raw)
        return RawTerminal(saved: original)
    }

    func restore() {
        var original = saved
        tcsetattr(0, TCSANOW, &original)
    }

    static func size() -> (rows: UInt16, cols: UInt16) {
        var ws = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_row > 0 { return (ws.ws_row, ws.ws_col) }
        return (24, 80)
    }

    static func windowChanges() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        signal(SIGWINCH, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGWINCH)
        source.setEventHandler { continuation.yield() }
        source.resume()
        // The source lives as long as the process; a shell has one terminal.
        nonisolated(unsafe) let retained = source
        continuation.onTermination = { _ in retained.cancel() }
        return stream
    }
}
