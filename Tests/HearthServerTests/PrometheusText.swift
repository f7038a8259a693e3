/// A strict reader of the Prometheus text exposition format (0.0.4), so a test fails on an empty,
/// malformed or inconsistent `/metrics`: names and label names by the format's grammar, quoted and
/// escaped label values, numeric values, `# TYPE` at most once per family and before its samples,
/// histograms with `le` buckets, `_sum` and `_count`, counters never negative.
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Malformed: Error, CustomStringConvertible {
        var line: Int
        var why: String
        var description: String { "line \(line): \(why)" }
    }

    var samples: [Sample] = []
    var types: [String: String] = [:]

    init(_ text: String) throws {
        guard !text.isEmpty else { throw Malformed(line: 0, why: "empty exposition") }
        guard text.hasSuffix("\n") else { throw Malformed(line: 0, why: "does not end with a newline") }
        var seenFamilies = Set<String>()
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let number = index + 1
            let line = String(raw)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3, parts[0] == "#", ["HELP", "TYPE"].contains(parts[1]) else { continue }
                guard Self.isMetricName(parts[2]) else { throw Malformed(line: number, why: "bad name \(parts[2])") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw Malformed(line: number, why: "bad TYPE line")
                    }
                    guard types[parts[2]] == nil, !seenFamilies.contains(parts[2]) else {
                        throw Malformed(line: number, why: "TYPE for \(parts[2]) repeated or after its samples")
                    }
                    types[parts[2]] = parts[3]
                }
                continue
            }
            let sample = try Self.sample(line, number: number)
            seenFamilies.insert(family(of: sample.name))
            samples.append(sample)
        }
        guard !samples.isEmpty else { throw Malformed(line: 0, why: "no samples") }
        for sample in samples {
            let family = family(of: sample.name)
            switch types[family] {
            case "counter":
                guard sample.value >= 0 else { throw Malformed(line: 0, why: "negative counter \(sample.name)") }
            case "histogram":
                if sample.name.hasSuffix("_bucket"), sample.labels["le"] == nil { throw Malformed(line: 0, why: "bucket without le") }
                guard sample.name != family else { throw Malformed(line: 0, why: "histogram sample without suffix") }
            default: break
            }
        }
    }

    /// The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` belong to it.
    func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    func values(_ name: String, where match: [String: String] = [:]) -> [Double] {
        samples.filter { sample in sample.name == name && match.allSatisfy { sample.labels[$0.key] == $0.value } }.map(\.value)
    }

    func sum(_ name: String, where match: [String: String] = [:]) -> Double { values(name, where: match).reduce(0, +) }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOr("_:") else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOr("_:") || ("0"..."9").contains($0) }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOr("_") else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOr("_") || ("0"..."9").contains($0) }
    }

    static func sample(_ line: String, number: Int) throws -> Sample {
        var rest = Substring(line)
        let nameEnd = rest.firstIndex(where: { $0 == "{" || $0 == " " }) ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard isMetricName(name) else { throw Malformed(line: number, why: "bad metric name \(name)") }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let equals = rest.firstIndex(of: "=") else { throw Malformed(line: number, why: "label without =") }
                let labelName = String(rest[..<equals])
                guard isLabelName(labelName) else { throw Malformed(line: number, why: "bad label name \(labelName)") }
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { throw Malformed(line: number, why: "unquoted label value") }
                rest = rest.dropFirst()
                var value = ""
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if character == "\"" { closed = true; break }
                    if character == "\\" {
                        guard let escaped = rest.first else { break }
                        rest = rest.dropFirst()
                        switch escaped {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Malformed(line: number, why: "bad escape \\\(escaped)")
                        }
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { throw Malformed(line: number, why: "unterminated label value") }
                guard labels.updateValue(value, forKey: labelName) == nil else { throw Malformed(line: number, why: "label \(labelName) repeated") }
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" {
                    throw Malformed(line: number, why: "expected , or } after a label")
                }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Malformed(line: number, why: "no space before the value") }
        let fields = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(fields.count), let value = parseValue(String(fields[0])) else {
            throw Malformed(line: number, why: "bad value in \(line)")
        }
        if fields.count == 2, Int64(fields[1]) == nil { throw Malformed(line: number, why: "bad timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }

    static func parseValue(_ text: String) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard !text.isEmpty, text.allSatisfy({ "0123456789.eE+-".contains($0) }) else { return nil }
            return Double(text)
        }
    }
}

extension Unicode.Scalar {
    func isASCIILetterOr(_ extra: String) -> Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || extra.unicodeScalars.contains(self)
    }
}
