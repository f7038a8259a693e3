/// `name = value`, `"name": "value"`, `NAME=value`, `name := value`, `'name' => 'value'`: a value
/// assigned to a secret-like name. AWS secret keys and service-account key ids are recognised by
/// shape; every other value goes to the classifier (stage 2), which tells secrets from placeholders,
/// references and ordinary settings.
extension SecretScanner {
    static let maxName = 64
    static let maxValue = 256
    static let minValue = 8

    func assignment(_ p: UnsafeBufferPointer<UInt8>, operator op: Int, floor: Int) -> Match? {
        let n = p.count
        let isColon = p[op] == 0x3A
        // Comparisons and scopes are not assignments: ==, !=, <=, >=, ::.
        if op + 1 < n, p[op + 1] == (isColon ? 0x3A : 0x3D) { return nil }
        if op > 0, [0x3D, 0x21, 0x3C, 0x3E, 0x3A].contains(p[op - 1]) { return nil }

        // The name, read backwards: optional blanks and a closing quote, then name bytes.
        var j = op - 1
        var blanks = 0
        while j >= floor, blanks < 4, ByteClass.isSpace(p[j]) { j -= 1; blanks += 1 }
        if j >= floor, ByteClass.isQuote(p[j]) { j -= 1 }
        let nameEnd = j + 1
        while j >= floor, nameEnd - j <= Self.maxName, ByteClass.isWord(p[j]) || p[j] == 0x2E || p[j] == 0x2D { j -= 1 }
        let nameStart = j + 1
        guard nameEnd > nameStart, nameEnd - nameStart <= Self.maxName else { return nil }
        let name = UnsafeBufferPointer(rebasing: p[nameStart..<nameEnd])
        guard let keyword = Self.secretKeyword(name) else { return nil }

        // The value: after `:=` or `=>`, blanks, an optional opening quote.
        var k = op + 1
        if k < n, p[k] == (isColon ? 0x3D : 0x3E) { k += 1 }
        blanks = 0
        while k < n, blanks < 4, ByteClass.isSpace(p[k]) { k += 1; blanks += 1 }
        var quote: UInt8 = 0
        if k < n, ByteClass.isQuote(p[k]) { quote = p[k]; k += 1 }
        let valueStart = k
        let valueEnd: Int
        if quote != 0 {
            valueEnd = p.run(from: k, limit: Self.maxValue + 1) { $0 != quote && $0 != 0x5C && $0 > 0x20 && $0 < 0x7F }
            guard valueEnd < n, p[valueEnd] == quote else { return nil }
        } else {
            valueEnd = p.run(from: k, limit: Self.maxValue + 1) {
                $0 > 0x20 && $0 < 0x7F && !ByteClass.isQuote($0) && $0 != 0x2C && $0 != 0x3B && $0 != 0x26 && $0 != 0x3C && $0 != 0x3E
            }
        }
        let length = valueEnd - valueStart
        guard length >= Self.minValue, length <= Self.maxValue else { return nil }
        // A typed token or a key block is left to its own rule, which the pass reaches next.
        if token(p, at: valueStart) != nil || p.hasPrefix("-----BEGIN", at: valueStart) { return nil }
        let value = UnsafeBufferPointer(rebasing: p[valueStart..<valueEnd])

        if keyword == .awsSecret, length == 40, value.allSatisfy({ ByteClass.isBase64($0) || $0 == 0x3D }) {
            return Match(start: valueStart, end: valueEnd, rule: .awsSecretKey)
        }
        if keyword == .serviceAccountKeyID, length == 40, value.allSatisfy(ByteClass.isHex) {
            return Match(start: valueStart, end: valueEnd, rule: .gcpServiceAccount)
        }
        guard classifier.isSecret(value) else { return nil }
        return Match(start: valueStart, end: valueEnd, rule: .genericSecret)
    }

    enum Keyword { case generic, awsSecret, serviceAccountKeyID }

    private static let keywords: [[UInt8]] = [
        "password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key", "access_key", "accesskey",
        "auth", "credential", "private_key", "privatekey", "signing_key", "master_key", "passphrase",
    ].map { Array($0.utf8) }

    /// Which kind of secret-like name this is, case-insensitively, or nil.
    static func secretKeyword(_ name: UnsafeBufferPointer<UInt8>) -> Keyword? {
        var lower = [UInt8](repeating: 0, count: name.count)
        for (k, b) in name.enumerated() { lower[k] = ByteClass.isUpper(b) ? b | 0x20 : b }
        if lower == Array("private_key_id".utf8) { return .serviceAccountKeyID }
        guard keywords.contains(where: { lower.contains($0) }) else { return nil }
        if lower.contains(Array("secret".utf8)), lower.contains(Array("aws".utf8)) || lower.contains(Array("access".utf8)) { return .awsSecret }
        return .generic
    }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs; both are at most a few dozen bytes here.
    func contains(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        for start in 0...(count - needle.count) where self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        return false
    }
}
