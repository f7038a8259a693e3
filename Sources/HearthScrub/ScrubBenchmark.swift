import Foundation

/// Single-core throughput of `ScrubSession.scrub` on a mixed corpus: source code, logs and prose with
/// a secret every ~4 KiB. Used by `hearth-scrub-tool bench`; a figure, never an assertion.
public enum ScrubBenchmark {
    public static func corpus(bytes: Int) -> String {
        let lines = [
            "func handle(_ request: Request) async throws -> Response { let id = request.parameters.get(\"id\") }",
            "2026-12-01T00:00:00Z INFO server.request method=GET path=/v1/workspaces status=200 duration_ms=3.2",
            "The quick brown fox jumps over the lazy dog; contact the team at the usual channel for help.",
            "    if password == confirm { return .ok } // compare, not an assignment",
            "commit 3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a  Merge branch 'main' into feature/scrub",
            "export PATH=/usr/local/bin:$PATH; cd /workspace && swift build -c release 2>&1 | tail -20",
            "{\"name\": \"hearth\", \"version\": \"1.2.3\", \"dependencies\": {\"swift-nio\": \"2.101.2\"}}",
        ]
        let secrets = [
            "aws_access_key_id = AKIAQWERTYUIOPASDFGH", "token: ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "db_password = \"Xk9#qL2vR7!mZ\"", "mail ops@example.com now", "IBAN DE89370400440532013000",
        ]
        var out = ""
        out.reserveCapacity(bytes + 256)
        var k = 0
        while out.utf8.count < bytes {
            out += lines[k % lines.count] + "\n"
            if k % 40 == 39 { out += secrets[(k / 40) % secrets.count] + "\n" }
            k += 1
        }
        return out
    }

    public static func run(mebibytes: Int) -> String {
        let text = corpus(bytes: 1 << 20)
        var session = ScrubSession()
        var hits = 0
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<max(mebibytes, 1) { hits &+= session.scrub(text).hits.values.reduce(0, &+) }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(text.utf8.count * max(mebibytes, 1)) / seconds / 1_000_000
        return String(format: "scrub throughput: %.1f MB/s on one core (%d MiB, %d hits, %.3f s)", rate, mebibytes, hits, seconds)
    }
}
