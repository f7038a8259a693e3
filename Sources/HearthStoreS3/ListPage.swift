public import Foundation

/// The few fields of a ListObjectsV2 answer that the engine needs, read without an XML dependency.
struct ListPage {
    struct Item { var key: String; var size: Int; var etag: String; var modified: Date }
    var contents: [Item] = []
    var isTruncated = false
    var nextToken: String?

    init(xml: String) {
        isTruncated = Self.value("IsTruncated", in: xml) == "true"
        nextToken = Self.value("NextContinuationToken", in: xml)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        for block in xml.components(separatedBy: "<Contents>").dropFirst() {
            let body = block.components(separatedBy: "</Contents>").first ?? block
            guard let key = Self.value("Key", in: body) else { continue }
            let modifiedText = Self.value("LastModified", in: body) ?? ""
            contents.append(Item(key: Self.unescape(key), size: Int(Self.value("Size", in: body) ?? "0") ?? 0,
                                 etag: Self.unescape(Self.value("ETag", in: body) ?? ""),
                                 modified: formatter.date(from: modifiedText) ?? plain.date(from: modifiedText) ?? Date()))
        }
    }

    static func value(_ tag: String, in text: String) -> String? {
        guard let start = text.range(of: "<\(tag)>"), let end = text.range(of: "</\(tag)>", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }
}
