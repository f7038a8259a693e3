/// Rules with structure rather than a prefix: e-mail addresses, IBANs (mod-97 checked) and
/// PEM private-key blocks (also inside JSON, where the newlines are `\n` escapes).
extension SecretScanner {
    /// File extensions that follow `@2x`-style asset names; an "address" ending in one is a file.
    private static let fileSuffixes: Set<[UInt8]> = Set(["png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "css", "py", "txt", "json", "html", "swift", "md"].map { Array($0.utf8) })

    @inline(__always) private static func isLocal(_ b: UInt8) -> Bool {
        ByteClass.isAlnum(b) || b == 0x2E || b == 0x5F || b == 0x25 || b == 0x2B || b == 0x2D
    }

    func email(_ p: UnsafeBufferPointer<UInt8>, at sign: Int, floor: Int) -> Match? {
        var j = sign - 1
        while j >= floor, sign - j <= 65, Self.isLocal(p[j]) { j -= 1 }
        let start = j + 1
        guard sign - start >= 1, sign - start <= 64, p[start] != 0x2E else { return nil }
        if j >= floor, Self.isLocal(p[j]) { return nil }  // longer than 64: not an address
        // Domain: labels of [A-Za-z0-9-] joined by dots; at least two; the last is 2-24 letters.
        var k = sign + 1
        var labels = 0
        var lastLabel = k..<k
        while true {
            let labelEnd = p.run(from: k, limit: 64) { ByteClass.isAlnum($0) || $0 == 0x2D }
            guard labelEnd > k, labelEnd - k <= 63 else { break }
            labels += 1
            lastLabel = k..<labelEnd
            k = labelEnd
            guard k + 1 < p.count, p[k] == 0x2E, ByteClass.isAlnum(p[k + 1]), k - sign < 253 else { break }
            k += 1
        }
        let end = lastLabel.upperBound
        guard labels >= 2, (2...24).contains(lastLabel.count), p.isBoundary(at: end) else { return nil }
        let tld = UnsafeBufferPointer(rebasing: p[lastLabel])
        guard tld.allSatisfy(ByteClass.isAlpha) else { return nil }
        if Self.fileSuffixes.contains(tld.map { $0 | 0x20 }) { return nil }
        return Match(start: start, end: end, rule: .email)
    }

    /// Two letters, two check digits, 11–30 alphanumerics, compact or in groups of four; mod 97 == 1.
    func iban(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        guard i + 15 <= p.count, ByteClass.isUpper(p[i + 1]), ByteClass.isDigit(p[i + 2]), ByteClass.isDigit(p[i + 3]) else { return nil }
        let isIBANByte: (UInt8) -> Bool = { ByteClass.isUpper($0) || ByteClass.isDigit($0) }
        var chars: [UInt8] = []
        chars.reserveCapacity(34)
        var k = i
        var end = i
        let firstRun = p.run(from: i, limit: 35, where: isIBANByte)
        if firstRun - i == 4, firstRun < p.count, p[firstRun] == 0x20 {
            // Grouped: "DE89 3704 0044 0532 0130 00".
            while chars.count < 34 {
                let groupEnd = p.run(from: k, limit: 5, where: isIBANByte)
                let group = groupEnd - k
                guard group >= 1, group <= 4 else { break }
                chars.append(contentsOf: p[k..<groupEnd])
                end = groupEnd
                guard group == 4, groupEnd + 1 < p.count, p[groupEnd] == 0x20, isIBANByte(p[groupEnd + 1]) else { break }
                k = groupEnd + 1
            }
        } else {
            chars.append(contentsOf: p[i..<firstRun])
            end = firstRun
        }
        guard (15...34).contains(chars.count), p.isBoundary(at: end), Self.mod97(chars) == 1 else { return nil }
        return Match(start: i, end: end, rule: .iban)
    }

    /// ISO 13616: move the first four characters to the end, letters become 10…35, remainder mod 97.
    static func mod97(_ chars: [UInt8]) -> Int {
        var remainder = 0
        for b in chars[4...] + chars[..<4] {
            if ByteClass.isDigit(b) {
                remainder = (remainder * 10 + Int(b - 0x30)) % 97
            } else {
                remainder = (remainder * 100 + Int(b - 0x41 + 10)) % 97
            }
        }
        return remainder
    }

    /// `-----BEGIN … PRIVATE KEY-----` through its END line, or through the end of the key body when
    /// the END line is missing (a truncated paste is still a key). At most 64 KiB.
    func privateKey(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        guard p.hasPrefix("-----BEGIN ", at: i) else { return nil }
        let labelEnd = p.run(from: i + 11, limit: 65) { $0 != 0x2D && $0 >= 0x20 && $0 < 0x7F }
        guard p.hasPrefix("-----", at: labelEnd), labelEnd - (i + 11) >= 11,
              UnsafeBufferPointer(rebasing: p[(labelEnd - 11)..<labelEnd]).elementsEqual("PRIVATE KEY".utf8) else { return nil }
        var k = labelEnd + 5
        let stop = min(p.count, i + 65536)
        while k < stop {
            if p.hasPrefix("-----END ", at: k) {
                let close = p.run(from: k + 9, limit: 65) { $0 != 0x2D && $0 >= 0x20 && $0 < 0x7F }
                if p.hasPrefix("-----", at: close) { return Match(start: i, end: close + 5, rule: .privateKey) }
                break
            }
            let b = p[k]
            guard ByteClass.isBase64(b) || b == 0x3D || b == 0x0A || b == 0x0D || b == 0x20 || b == 0x09 || b == 0x5C
                || b == 0x3A || b == 0x2C || b == 0x2D else { break }
            k += 1
        }
        return Match(start: i, end: k, rule: .privateKey)
    }
}
