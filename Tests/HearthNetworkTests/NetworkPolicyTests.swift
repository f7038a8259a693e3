import HearthCore
import HearthNetwork
import Testing

@Suite struct NetworkPolicyTests {
    @Test func rulesParseStrictly() throws {
        #expect(try NetworkRule(parsing: "*.PyPI.org:443").description == "*.pypi.org:443")
        #expect(try NetworkRule(parsing: "udp:ntp.example:123").proto == .udp)
        #expect(try NetworkRule(parsing: "198.51.100.0/24:80-90").description == "198.51.100.0/24:80-90")
        #expect(try NetworkRule(parsing: "198.51.100.7").target == .cidr(CIDR("198.51.100.7/32")!))
        for bad in ["", "*", "*.com.*", "a..b", "pypi.org:0", "pypi.org:70000", "pypi.org:90-80", "198.51.100.1/24", "300.1.1.1",
                    "x:y:z", "-", "icmp:pypi.org", String(repeating: "a", count: 301), "pypi.org:", "a b.com", "localhost"] {
            #expect(throws: HearthError.self, "\(bad)") { try NetworkRule(parsing: bad) }
        }
    }

    /// After a policy change, an established connection goes on only if the new policy allows it:
    /// by a CIDR grant, or by a name the address was resolved from, however long ago.
    @Test func aConnectionGoesOnOnlyWhereTheNewPolicyAllowsIt() throws {
        let policy = EffectivePolicy(server: try LevelPolicy(mode: "deny-all", rules: ["*.pkg.example:80", "198.51.100.0/24:443", "udp:ntp.example:123"]))
        let address = IPv4("203.0.113.9")!
        #expect(policy.allowsConnection(to: address, proto: .tcp, port: 80, resolvedFrom: ["a.pkg.example"]))
        #expect(!policy.allowsConnection(to: address, proto: .tcp, port: 81, resolvedFrom: ["a.pkg.example"]))
        #expect(!policy.allowsConnection(to: address, proto: .udp, port: 80, resolvedFrom: ["a.pkg.example"]))
        #expect(!policy.allowsConnection(to: address, proto: .tcp, port: 80, resolvedFrom: ["allowed.example"]))
        #expect(!policy.allowsConnection(to: address, proto: .tcp, port: 80, resolvedFrom: []), "an IP literal nobody resolved")
        #expect(policy.allowsConnection(to: address, proto: .udp, port: 123, resolvedFrom: ["other.example", "ntp.example"]))
        #expect(policy.allowsConnection(to: IPv4("198.51.100.7")!, proto: .tcp, port: 443, resolvedFrom: []))
        #expect(!policy.allowsConnection(to: IPv4("198.51.100.7")!, proto: .tcp, port: 444, resolvedFrom: []))
        let open = EffectivePolicy(server: try LevelPolicy(mode: "deny-all", rules: []), tenant: try LevelPolicy(mode: "open", rules: nil), openAllowed: true)
        #expect(open.allowsConnection(to: address, proto: .udp, port: 9, resolvedFrom: []))
    }

    @Test func wildcardsCoverNamesUnderThemOnly() throws {
        let rule = try NetworkRule(parsing: "*.pypi.org")
        #expect(rule.matches(name: "files.pypi.org"))
        #expect(rule.matches(name: "a.b.pypi.org"))
        #expect(!rule.matches(name: "pypi.org"))
        #expect(!rule.matches(name: "evilpypi.org"))
        #expect(!rule.matches(name: "pypi.org.evil.example"))
    }

    @Test func eachLevelOnlyNarrows() throws {
        let server = try LevelPolicy(mode: "deny-all", rules: ["*.pypi.org:443", "github.com", "198.51.100.0/24"])
        let tenant = try LevelPolicy(mode: nil, rules: ["files.pypi.org", "github.com:22", "198.51.100.0/25", "evil.example"])
        var policy = EffectivePolicy(server: server, tenant: tenant)
        #expect(policy.grants(forName: "files.pypi.org").map(\.ports) == [443...443])
        #expect(policy.grants(forName: "files.pypi.org").first?.because == ["server: *.pypi.org:443", "tenant: files.pypi.org"])
        #expect(policy.grants(forName: "github.com").map(\.ports) == [22...22])
        #expect(policy.grants(forName: "evil.example").isEmpty, "a tenant cannot add what the server does not allow")
        #expect(policy.networkGrants.map(\.cidr) == [CIDR("198.51.100.0/25")!])
        policy.workspace = try LevelPolicy(mode: nil, rules: ["github.com:22"])
        #expect(policy.grants(forName: "files.pypi.org").isEmpty)
        #expect(policy.networkGrants.isEmpty)
        // Open mode needs the operator's leave and the tenant's choice; a workspace can refuse it.
        policy.tenant.mode = .open
        #expect(policy.mode == .denyAll)
        policy.openAllowed = true
        #expect(policy.mode == .open)
        policy.workspace.mode = .denyAll
        #expect(policy.mode == .denyAll)
        #expect(throws: HearthError.self) { try LevelPolicy(mode: "everything", rules: nil) }
        #expect(throws: HearthError.self) { try LevelPolicy(mode: nil, rules: Array(repeating: "a.example", count: 65)) }
    }

    @Test func cidrsAreStrict() {
        #expect(CIDR("10.0.0.0/8")!.contains(CIDR("10.1.0.0/16")!))
        #expect(CIDR("10.0.0.0/8")!.intersection(CIDR("11.0.0.0/8")!) == nil)
        #expect(CIDR("10.0.0.1/8") == nil)
        #expect(CIDR("1.2.3.4/33") == nil)
        #expect(IPv4("01.2.3.4") != nil && IPv4("1.2.3") == nil && IPv4("1.2.3.256") == nil && IPv4("+1.2.3.4") == nil)
    }
}

/// What no policy reaches is cut however the policy reads: a connection to a private range the
/// operator no longer names, or to an always-blocked address, goes even in `open` mode.
@Suite struct ConnectionJudgeTests {
    @Test func theBlockedAndUnnamedPrivateRangesAreNeverKept() throws {
        let open = EffectivePolicy(server: try LevelPolicy(mode: "deny-all", rules: ["10.1.0.0/16:443"]),
                                   tenant: try LevelPolicy(mode: "open", rules: nil), openAllowed: true)
        var judge = ConnectionJudge(open)
        judge.refused = [CIDR("169.254.0.0/16")!]
        judge.privateRanges = [CIDR("10.0.0.0/8")!]
        func keeps(_ address: String, _ port: UInt16) -> Bool { judge.keeps(IPv4(address)!, .tcp, port, resolvedFrom: []) }
        #expect(keeps("198.51.100.7", 443))
        #expect(!keeps("169.254.169.254", 80))
        #expect(!keeps("10.1.2.3", 443))
        judge.allowedPrivate = [CIDR("10.1.0.0/16")!]
        #expect(keeps("10.1.2.3", 443))
    }
}
