/// Stage 1 of the scrubber: one forward pass over UTF-8 bytes. Every rule is a hand-written matcher
/// that looks at most a fixed number of bytes around the current position (no backtracking engine),
/// and after a match the pass resumes past it, so scanning is linear in the input.
struct SecretScanner: Sendable {
    let tenantRules: [TenantScrubRule]
    let classifier: SecretClassifier
    /// A bitmap of the first bytes of tenant prefixes: most positions are rejected by one test.
    private let tenantFirstBytes: (UInt64, UInt64, UInt64, UInt64)

    init(tenantRules: [TenantScrubRule], classifier: SecretClassifier) {
        self.tenantRules = tenantRules
        self.classifier = classifier
        var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for rule in tenantRules {
            let b = rule.prefix[0]
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: bits.0 |= bit
            case 1: bits.1 |= bit
            case 2: bits.2 |= bit
            default: bits.3 |= bit
            }
        }
        tenantFirstBytes = bits
    }

    struct Match { var start: Int; var end: Int; var rule: ScrubRuleID }

    func scan(_ p: UnsafeBufferPointer<UInt8>) -> [ScrubFinding] {
        var findings: [ScrubFinding] = []
        let n = p.count
        var i = 0
        var floor = 0  // nothing before this offset may be claimed again
        while i < n {
            let b = p[i]
            let boundary = i == 0 || !ByteClass.isWord(p[i - 1])
            var found: Match?
            switch b {
            case 0x3D, 0x3A:  // = :
                found = assignment(p, operator: i, floor: floor)
            case 0x40:  // @
                found = email(p, at: i, floor: floor)
            case 0x2D:  // -
                found = privateKey(p, at: i)
            default:
                if boundary {
                    found = token(p, at: i)
                    if found == nil, ByteClass.isUpper(b) { found = iban(p, at: i) }
                    if found == nil, hasTenantPrefix(b) { found = tenantToken(p, at: i) }
                }
            }
            if let match = found {
                findings.append(ScrubFinding(start: match.start, end: match.end, rule: match.rule))
                floor = match.end
                i = match.end
            } else {
                i &+= 1
            }
        }
        return findings
    }

    @inline(__always) private func hasTenantPrefix(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return tenantFirstBytes.0 & bit != 0
        case 1: return tenantFirstBytes.1 & bit != 0
        case 2: return tenantFirstBytes.2 & bit != 0
        default: return tenantFirstBytes.3 & bit != 0
        }
    }

    private func tenantToken(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        for rule in tenantRules where p.hasPrefix(rule.prefix, at: i) {
            let bodyStart = i + rule.prefix.count
            let end = p.run(from: bodyStart, limit: rule.maxLength + 1, where: rule.alphabet.contains)
            let length = end - bodyStart
            if length >= rule.minLength, length <= rule.maxLength, p.isBoundary(at: end) {
                return Match(start: i, end: end, rule: rule.ruleID)
            }
        }
        return nil
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// The end of the run of bytes satisfying `test` starting at `start`, looking at most `limit` bytes.
    @inline(__always) func run(from start: Int, limit: Int, where test: (UInt8) -> Bool) -> Int {
        var j = start
        let stop = Swift.min(count, start &+ limit)
        while j < stop, test(self[j]) { j &+= 1 }
        return j
    }

    @inline(__always) func hasPrefix(_ prefix: [UInt8], at i: Int) -> Bool {
        guard count - i >= prefix.count else { return false }
        for k in 0..<prefix.count where self[i + k] != prefix[k] { return false }
        return true
    }

    @inline(__always) func hasPrefix(_ prefix: StaticString, at i: Int) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard count - i >= length else { return false }
        let bytes = prefix.utf8Start
        for k in 0..<length where self[i + k] != bytes[k] { return false }
        return true
    }

    /// No word byte at `i` (or the end): a token ending here is not the head of a longer one.
    @inline(__always) func isBoundary(at i: Int) -> Bool { i >= count || !ByteClass.isWord(self[i]) }
}
