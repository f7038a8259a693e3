import Testing
@testable import HearthScrub

/// The scrubber reads hostile bytes (prompts, tool output): seeded generator, fixed iterations.
/// No input traps, findings are ordered, disjoint and in bounds, and work stays linear.
@Suite struct ScrubFuzzTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let fragments: [String] = [
        "AKIA", "AIza", "ghp_", "github_pat_", "glpat-", "xoxb-", "sk_live_", "eyJ", ".", "-----BEGIN ", "PRIVATE KEY-----",
        "-----END ", "@", "=", ":", "\"", "'", " ", "\n", "\\n", "password", "token", "DE89", "GB82", "0000", "abcd", "ZZZZ",
        "‹REDACTED:", "›", "é", "\u{0}", "==", ":=", "=>", "example.com", "%", "${",
    ]

    @Test func noInputTrapsAndFindingsStayInBounds() throws {
        var random = SplitMix64(seed: 0x5C2B_0018)
        let tenant = try TenantScrubRule(id: "acme", prefix: "acme_", alphabet: .base64url, minLength: 4, maxLength: 40)
        let scrubber = try Scrubber(tenantRules: [tenant])
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &random) {
                if Bool.random(using: &random) {
                    bytes += Array(Self.fragments.randomElement(using: &random)!.utf8)
                } else {
                    bytes += (0..<Int.random(in: 1...24, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                }
            }
            let findings = bytes.withUnsafeBufferPointer { scrubber.findings(in: $0) }
            var last = 0
            for finding in findings {
                #expect(finding.start >= last && finding.start < finding.end && finding.end <= bytes.count)
                last = finding.end
            }
            var session = ScrubSession(scrubber: scrubber)
            let text = String(decoding: bytes, as: UTF8.self)
            let once = session.scrub(text)
            #expect(session.scrub(once.text).text == once.text)
        }
    }

    @Test func adversarialRepetitionStaysLinear() {
        // Inputs built to make a backtracking matcher explode: long runs of near-matches.
        let n = 1 << 20
        let shapes = [
            String(repeating: "a", count: n) + "@", String(repeating: "a@", count: n / 2), String(repeating: "password=", count: n / 9),
            String(repeating: "-----BEGIN RSA PRIVATE KEY-----", count: n / 31), String(repeating: "eyJaaaaaaaaaaa.", count: n / 15),
            String(repeating: "DE89 ", count: n / 5), String(repeating: "x.", count: n / 2) + "@",
        ]
        for text in shapes {
            // Linear means bounded work per byte; count findings instead of timing (no timed assertions).
            let findings = Scrubber.standard.findings(in: text)
            #expect(findings.count <= text.utf8.count)
        }
    }
}
