import Foundation
@testable import HearthAudit
import Testing

/// Issue 14 #12: an exec's argv went into the audit log verbatim, secrets included.
@Suite struct AuditRedactionTests {
    static func line(_ argv: [String]) -> String { AuditRedaction.commandLine(argv.map(AuditRedaction.quote).joined(separator: " ")) }

    @Test(arguments: [
        (["mysql", "-u", "root", "-p", "s3cret!", "db"], "s3cret!"),
        (["mysql", "--password=s3cret", "db"], "s3cret"),
        (["psql", "--password", "s3cret"], "s3cret"),
        (["env", "GITHUB_TOKEN=ghp_abcdef123456", "make"], "ghp_abcdef123456"),
        (["env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "aws", "s3", "ls"], "wJalrXUtnFEMI"),
        (["env", "STRIPE_KEY=sk_live_42", "node", "app.js"], "sk_live_42"),
        (["env", "APP_SECRET=hunter2hunter2", "run"], "hunter2hunter2"),
        (["curl", "-H", "Authorization: Bearer eyJhbGciOi.payload.sig", "https://api.example"], "eyJhbGciOi.payload.sig"),
        (["curl", "-H", "authorization:Basic dXNlcjpwYXNz", "https://api.example"], "dXNlcjpwYXNz"),
        (["hearth", "--token", "hth_0123456789abcdef0123456789abcdef", "list"], "0123456789abcdef0123456789abcdef"),
        (["sh", "-c", "echo hth_0123456789abcdef0123456789abcdef | hearth login"], "0123456789abcdef0123456789abcdef"),
        (["bash", "-c", "export DB_PASSWORD=letmein; ./migrate"], "letmein"),
    ])
    func secretsInACommandLineAreRedacted(argv: [String], secret: String) {
        let redacted = Self.line(argv)
        #expect(!redacted.contains(secret), "\(redacted)")
        #expect(redacted.contains(AuditRedaction.marker))
        #expect(redacted.hasPrefix(argv[0]), "the command itself stays readable")
    }

    @Test func ordinaryCommandsAreKeptAsTheyWere() {
        for argv in [["ls", "-la", "/workspace"], ["python3", "-m", "http.server", "8000"], ["git", "commit", "-m", "fix the build"],
                     ["grep", "-r", "keyboard", "."], ["make", "test"]] {
            let line = argv.map(AuditRedaction.quote).joined(separator: " ")
            #expect(AuditRedaction.commandLine(line) == line)
        }
    }

    @Test func outputIsBounded() {
        let long = Self.line(["echo", String(repeating: "a", count: 100_000)])
        #expect(long.count <= AuditRedaction.maxLength + 1)
    }

    /// Fuzz: random command lines (shell-quoted or not) never crash the redactor, its output stays
    /// bounded, and a planted token never survives.
    @Test func fuzzRedactionOfRandomCommandLines() {
        var rng = SplitMix64(seed: 0x1D_E417)
        let alphabet = Array(" '\"\\=-:;|&$`\n\tabcHTH_xyzKEYTOKENsecretpassword0123456789Authorization".unicodeScalars)
        for _ in 0..<20_000 {
            let length = Int(rng.next() % 120)
            var text = String(String.UnicodeScalarView((0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }))
            let plant = rng.next() % 3 == 0
            if plant { text += " hth_feedfacefeedfacefeedfacefeedface " }
            let out = AuditRedaction.commandLine(text)
            #expect(out.count <= AuditRedaction.maxLength + 1)
            if plant { #expect(!out.contains("feedfacefeedfacefeedfacefeedface"), "\(text.debugDescription)") }
        }
    }
}

/// A small seeded generator, so a fuzz failure can be replayed.
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
