import AsyncHTTPClient
import Foundation
import HearthAgentCore
import HearthLLMTestKit
import HearthProviders
import Testing

/// Benchmark, not a test of speed (no timed assertion): time to the first text token through
/// `OpenAIChatProvider` against the same request sent straight to llama-server, alternating, in the
/// same run. Peers: a minimal HTTP/1.1 client on a raw socket in this process (no library), and curl
/// (which also pays its process start). Run with HEARTH_BENCH_TTFT=<runs>; prints one JSON line.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["HEARTH_BENCH_TTFT"] != nil && LlamaTestServer.isInstalled))
struct TimeToFirstTokenBenchmark {
    static let prompt = "What is the capital of France?"

    @Test func timeToFirstTokenAgainstTheServerDirectly() async throws {
        let runs = Int(ProcessInfo.processInfo.environment["HEARTH_BENCH_TTFT"] ?? "") ?? 20
        try await LlamaTestServer.withServer(toolForcing: false) { server in
            try await withClient { client in
                let provider = try server.provider(.openAI, client: client)
                let body = #"{"model":"smollm2-135m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"\#(Self.prompt)"}],"max_tokens":8,"temperature":0}"#
                var hearth: [Double] = [], raw: [Double] = [], curl: [Double] = []
                for run in 0..<(runs + 2) {
                    let a = try await Self.viaProvider(provider)
                    let b = try Self.viaRawSocket(port: server.port, key: server.apiKey, body: body)
                    let c = try Self.viaCurl(port: server.port, key: server.apiKey, body: body)
                    if run >= 2 { hearth.append(a); raw.append(b); curl.append(c) }  // two warm-up rounds
                }
                func pct(_ v: [Double], _ p: Double) -> Double { let s = v.sorted(); return s[min(s.count - 1, Int((p / 100 * Double(s.count - 1)).rounded()))] }
                func ms(_ v: Double) -> String { String(format: "%.2f", v * 1000) }
                print(#"{"figure":"ttft","runs":\#(runs),"hearth_p50_ms":\#(ms(pct(hearth, 50))),"hearth_p95_ms":\#(ms(pct(hearth, 95))),"raw_p50_ms":\#(ms(pct(raw, 50))),"raw_p95_ms":\#(ms(pct(raw, 95))),"curl_p50_ms":\#(ms(pct(curl, 50))),"curl_p95_ms":\#(ms(pct(curl, 95))),"overhead_vs_raw_p50_ms":\#(ms(pct(hearth, 50) - pct(raw, 50)))}"#)
            }
        }
    }

    static func viaProvider(_ provider: any ChatProvider) async throws -> Double {
        let start = ContinuousClock.now
        let stream = try await provider.stream(ProviderRequest(model: LlamaTestServer.model, messages: [.user(prompt)], maxTokens: 8, temperature: 0))
        var first: Duration?
        for try await event in stream { if case .textDelta = event, first == nil { first = ContinuousClock.now - start } }
        return seconds(try #require(first))
    }

    /// The request written by hand on a socket; the clock stops at the first frame with text.
    static func viaRawSocket(port: Int, key: String, body: String) throws -> Double {
        let start = ContinuousClock.now
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw LlamaTestServer.Failure(description: "connect failed") }
        let request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let marker = Array(#""content":""#.utf8)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { throw LlamaTestServer.Failure(description: "no token") }
            received += buffer[0..<n]
            if received.count >= marker.count, (0...(received.count - marker.count)).contains(where: { received[$0..<$0 + marker.count].elementsEqual(marker) }) {
                return seconds(ContinuousClock.now - start)
            }
        }
    }

    /// curl -N, its output read as it comes; includes curl's process start.
    static func viaCurl(port: Int, key: String, body: String) throws -> Double {
        let start = ContinuousClock.now
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sN", "-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d", body,
                             "http://127.0.0.1:\(port)/v1/chat/completions"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var received = Data()
        var elapsed: Double?
        while elapsed == nil {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            received.append(chunk)
            if String(decoding: received, as: UTF8.self).contains(#""content":""#) { elapsed = seconds(ContinuousClock.now - start) }
        }
        _ = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try #require(elapsed)
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
