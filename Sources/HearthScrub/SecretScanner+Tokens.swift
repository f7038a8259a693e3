/// Vendor tokens with a fixed prefix and alphabet (gitleaks' rule shapes, written as bounded matchers).
extension SecretScanner {
    /// A typed token starting at `i`, if one does. Also used by the assignment rule to leave a typed
    /// token to its own rule.
    func token(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        switch p[i] {
        case 0x41:  // A
            if p.hasPrefix("AKIA", at: i) || p.hasPrefix("ASIA", at: i) || p.hasPrefix("ABIA", at: i) || p.hasPrefix("ACCA", at: i) {
                let end = p.run(from: i + 4, limit: 17) { ByteClass.isUpper($0) || ByteClass.isDigit($0) }
                // AWS's documentation keys end in EXAMPLE; they are not secrets.
                if end - i == 20, p.isBoundary(at: end), !p.hasPrefix("EXAMPLE", at: end - 7) {
                    return Match(start: i, end: end, rule: .awsAccessKey)
                }
            }
            if p.hasPrefix("AIza", at: i) {
                let end = p.run(from: i + 4, limit: 36, where: ByteClass.isBase64URL)
                if end - i == 39, p.isBoundary(at: end) { return Match(start: i, end: end, rule: .gcpAPIKey) }
            }
        case 0x67:  // g
            if p.hasPrefix("github_pat_", at: i) {
                let end = p.run(from: i + 11, limit: 256, where: ByteClass.isWord)
                if end - i >= 11 + 70, end - i < 11 + 256 { return Match(start: i, end: end, rule: .githubToken) }
            } else if p.hasPrefix("gh", at: i), i + 4 <= p.count, p[i + 3] == 0x5F,
                      p[i + 2] == 0x70 || p[i + 2] == 0x6F || p[i + 2] == 0x75 || p[i + 2] == 0x73 || p[i + 2] == 0x72 {
                let end = p.run(from: i + 4, limit: 256, where: ByteClass.isAlnum)
                if end - i >= 4 + 36, end - i < 4 + 256, p.isBoundary(at: end) { return Match(start: i, end: end, rule: .githubToken) }
            } else if p.hasPrefix("glpat-", at: i) || p.hasPrefix("glptt-", at: i) || p.hasPrefix("glrt-", at: i) {
                let start = p[i + 4] == 0x2D ? i + 5 : i + 6
                let end = p.run(from: start, limit: 256) { ByteClass.isBase64URL($0) }
                if end - start >= 20, end - start < 256 { return Match(start: i, end: end, rule: .gitlabToken) }
            }
        case 0x78:  // x
            if p.hasPrefix("xox", at: i), i + 5 <= p.count, p[i + 4] == 0x2D,
               p[i + 3] == 0x62 || p[i + 3] == 0x61 || p[i + 3] == 0x70 || p[i + 3] == 0x72 || p[i + 3] == 0x73 {
                let end = p.run(from: i + 5, limit: 256) { ByteClass.isAlnum($0) || $0 == 0x2D }
                if end - i >= 5 + 20, end - i < 5 + 256 { return Match(start: i, end: end, rule: .slackToken) }
            } else if p.hasPrefix("xapp-", at: i) {
                let end = p.run(from: i + 5, limit: 256) { ByteClass.isAlnum($0) || $0 == 0x2D }
                if end - i >= 5 + 20, end - i < 5 + 256 { return Match(start: i, end: end, rule: .slackToken) }
            }
        case 0x73, 0x72:  // s r
            if p.hasPrefix("sk_live_", at: i) || p.hasPrefix("sk_test_", at: i) || p.hasPrefix("rk_live_", at: i) || p.hasPrefix("rk_test_", at: i) {
                let end = p.run(from: i + 8, limit: 256, where: ByteClass.isAlnum)
                if end - i >= 8 + 20, end - i < 8 + 256, p.isBoundary(at: end) { return Match(start: i, end: end, rule: .stripeKey) }
            }
        case 0x65:  // e
            return jwt(p, at: i)
        default:
            break
        }
        return nil
    }

    /// `eyJ…` header, `.`, payload, `.`, signature (possibly empty for `alg: none`), each segment bounded.
    private func jwt(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        guard p.hasPrefix("eyJ", at: i) else { return nil }
        let headerEnd = p.run(from: i, limit: 8192, where: ByteClass.isBase64URL)
        guard headerEnd - i >= 10, headerEnd < p.count, p[headerEnd] == 0x2E else { return nil }
        let payloadEnd = p.run(from: headerEnd + 1, limit: 65536, where: ByteClass.isBase64URL)
        guard payloadEnd - headerEnd > 10, payloadEnd < p.count, p[payloadEnd] == 0x2E else { return nil }
        let end = p.run(from: payloadEnd + 1, limit: 8192, where: ByteClass.isBase64URL)
        return Match(start: i, end: end, rule: .jwt)
    }
}
