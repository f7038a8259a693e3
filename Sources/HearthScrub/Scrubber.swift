import HearthCore

/// The secret scrubber: stage 1 rules, stage 2 classifier, and a tenant's own rules. No I/O.
/// `Scrubber` finds; `ScrubSession` replaces, with markers that stay the same for the same value
/// within a session (`‹REDACTED:aws_access_key:1›`), so a model can still refer to it.
public struct Scrubber: Sendable {
    let scanner: SecretScanner

    /// - Throws: `invalidArgument` past `TenantScrubRule.maxRules` rules.
    public init(tenantRules: [TenantScrubRule] = [], classifier: SecretClassifier = .trained) throws {
        guard tenantRules.count <= TenantScrubRule.maxRules else {
            throw HearthError(.invalidArgument, "at most \(TenantScrubRule.maxRules) scrub rules per tenant")
        }
        scanner = SecretScanner(tenantRules: tenantRules, classifier: classifier)
    }

    public static let standard = try! Scrubber()

    public func findings(in bytes: UnsafeBufferPointer<UInt8>) -> [ScrubFinding] { scanner.scan(bytes) }

    public func findings(in text: String) -> [ScrubFinding] {
        var text = text
        return text.withUTF8 { scanner.scan($0) }
    }
}

/// What a scrub did: the text to send on, and how often each rule fired (never the values).
public struct ScrubOutcome: Sendable, Equatable {
    public var text: String
    public var hits: [ScrubRuleID: Int]
    public var isClean: Bool { hits.isEmpty }
}

/// Stable replacements for one agent session. Holds the values it replaced, in memory only, so the
/// same value gets the same marker each time.
public struct ScrubSession: Sendable {
    public let scrubber: Scrubber
    private var markers: [ScrubRuleID: [String: Int]] = [:]

    public static let maxValuesPerRule = 65_536

    public init(scrubber: Scrubber = .standard) { self.scrubber = scrubber }

    public static func marker(rule: ScrubRuleID, number: Int) -> String { "‹REDACTED:\(rule.rawValue):\(number)›" }

    public mutating func scrub(_ text: String) -> ScrubOutcome {
        var text = text
        return text.withUTF8 { bytes in
            let findings = scrubber.findings(in: bytes)
            guard !findings.isEmpty else { return ScrubOutcome(text: String(decoding: bytes, as: UTF8.self), hits: [:]) }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var hits: [ScrubRuleID: Int] = [:]
            var cursor = 0
            for finding in findings {
                out.append(contentsOf: bytes[cursor..<finding.start])
                let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[finding.start..<finding.end]), as: UTF8.self)
                let number: Int
                if let existing = markers[finding.rule]?[value] {
                    number = existing
                } else if let count = markers[finding.rule]?.count, count >= Self.maxValuesPerRule {
                    number = 0  // bounded memory: past the cap, new values share marker 0
                } else {
                    number = (markers[finding.rule]?.count ?? 0) &+ 1
                    markers[finding.rule, default: [:]][value] = number
                }
                out.append(contentsOf: Self.marker(rule: finding.rule, number: number).utf8)
                hits[finding.rule, default: 0] &+= 1
                cursor = finding.end
            }
            out.append(contentsOf: bytes[cursor...])
            return ScrubOutcome(text: String(decoding: out, as: UTF8.self), hits: hits)
        }
    }
}
