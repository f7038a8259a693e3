import Testing
@testable import HearthScrub

@Suite struct ScrubRuleTests {
    func scrub(_ text: String) -> ScrubOutcome {
        var session = ScrubSession()
        return session.scrub(text)
    }

    @Test(arguments: [
        ("key AKIAQWERTYUIOPASDFGH here", "aws_access_key"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKE", "aws_secret_key"),
        ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "gcp_api_key"),
        ("\"private_key_id\": \"0123456789abcdef0123456789abcdef01234567\"", "gcp_service_account"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_token"),
        ("glpat-abcdefghij0123456789", "gitlab_token"),
        ("xoxb-1234567890-1234567890-abcdefghijklmnopqrstuvwx", "slack_token"),
        ("sk_live_abcdefghijklmnopqrstuvwx", "stripe_key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "private_key"),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt"),
        ("write to jane.doe+x@mail.example.co.uk today", "email"),
        ("IBAN DE89 3704 0044 0532 0130 00.", "iban"),
        ("GB82WEST12345698765432", "iban"),
        ("db_password = \"Xk9#qL2vR7!mZp\"", "generic_secret"),
    ])
    func eachRuleFires(text: String, rule: String) {
        let outcome = scrub(text)
        #expect(outcome.hits[ScrubRuleID(rawValue: rule)] == 1, "\(outcome)")
        #expect(outcome.text.contains("‹REDACTED:\(rule):1›"))
    }

    @Test(arguments: [
        "AKIAIOSFODNN7EXAMPLE is documented", "DE89370400440532013001", "icon@2x.png", "ssh user@localhost",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "if password == confirm {", "password = os.environ['DB']",
        "token: ${GITHUB_TOKEN}", "max_tokens: 4096", "api_key = \"YOUR_API_KEY_HERE\"", "password: <password>",
        "commit 3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a", "ghp_short",
    ])
    func hardNegativesStayUntouched(text: String) {
        let outcome = scrub(text)
        #expect(outcome.isClean, "\(outcome)")
        #expect(outcome.text == text)
    }

    @Test func theSameValueKeepsItsMarkerWithinASession() {
        var session = ScrubSession()
        let first = session.scrub("a AKIAQWERTYUIOPASDFGH b AKIAZZZZZZZZZZZZZZZZ")
        let second = session.scrub("again AKIAQWERTYUIOPASDFGH")
        #expect(first.text == "a ‹REDACTED:aws_access_key:1› b ‹REDACTED:aws_access_key:2›")
        #expect(second.text == "again ‹REDACTED:aws_access_key:1›")
    }

    @Test func scrubbingIsIdempotent() {
        var session = ScrubSession()
        let once = session.scrub("password = \"Xk9#qL2vR7!mZp\" and ops@example.com")
        let twice = session.scrub(once.text)
        #expect(twice.text == once.text)
        #expect(twice.isClean)
    }

    @Test func aTenantRuleFiresAndIsValidated() throws {
        let rule = try TenantScrubRule(id: "acme", prefix: "acme_", alphabet: .alphanumeric, minLength: 16, maxLength: 32)
        var session = ScrubSession(scrubber: try Scrubber(tenantRules: [rule]))
        #expect(session.scrub("key acme_0123456789abcdef end").text == "key ‹REDACTED:custom_acme:1› end")
        #expect(session.scrub("acme_short").isClean)
        #expect(throws: (any Error).self) { try TenantScrubRule(id: "Bad Id", prefix: "acme_", alphabet: .hex, minLength: 1, maxLength: 2) }
        #expect(throws: (any Error).self) { try TenantScrubRule(id: "x", prefix: "a", alphabet: .hex, minLength: 1, maxLength: 2) }
        #expect(throws: (any Error).self) { try TenantScrubRule(id: "x", prefix: "abc", alphabet: .hex, minLength: 5, maxLength: 2) }
        let many = try (0...TenantScrubRule.maxRules).map { try TenantScrubRule(id: "r\($0)", prefix: "pre\($0)", alphabet: .hex, minLength: 1, maxLength: 8) }
        #expect(throws: (any Error).self) { try Scrubber(tenantRules: many) }
    }

    @Test func aServiceAccountJSONLosesItsKeyAndKeyID() {
        let json = #"{"type": "service_account", "private_key_id": "0123456789abcdef0123456789abcdef01234567", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n", "client_email": "svc@proj.iam.gserviceaccount.com"}"#
        let outcome = scrub(json)
        #expect(!outcome.text.contains("0123456789abcdef"))
        #expect(!outcome.text.contains("MIIEvQ"))
        #expect(outcome.hits[.gcpServiceAccount] == 1)
        #expect(outcome.hits[.privateKey] == 1)
        #expect(outcome.hits[.email] == 1)
    }
}
