import HearthCore
import HTTPTypes
import Foundation

/// The head of a guest server's answer, parsed for the browser. The guest never decides the
/// framing of what Hearth sends: its `Content-Length` becomes the exact number of body bytes
/// relayed (any more are dropped, fewer end the connection), and without one the body is sent
/// chunked until the guest closes. Statuses without a body get none, whatever the guest sends.
struct PreviewResponseHead: Equatable {
    enum Framing: Equatable {
        /// Exactly this many body bytes.
        case length(Int)
        /// Until the guest closes; Hearth frames it (chunked).
        case untilClose
        /// No body at all (HEAD, 204, 304).
        case none
    }

    var status: HTTPResponse.Status
    var fields: HTTPFields
    var framing: Framing
    /// Guest `Set-Cookie` headers refused (Hearth's names, nameless, malformed): logged by the caller.
    var droppedCookies = 0

    static let maxHead = 64 << 10

    /// Parses the guest's head (without the blank line). `cookiePath` is where the guest's cookies
    /// are confined; `isHead` whether the request was HEAD.
    static func parse(_ head: String, cookiePath: String, isHead: Bool) throws -> PreviewResponseHead {
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).makeIterator()
        let notHTTP = HearthError(.agentUnavailable, "the server in the workspace did not answer with HTTP",
                                  detail: "preview answer refused: status line \(head.prefix { $0 != "\r" }.prefix(80).debugDescription)")
        guard let statusLine = lines.next(), statusLine.hasPrefix("HTTP/"),
              let codeText = statusLine.split(separator: " ", omittingEmptySubsequences: false).dropFirst().first,
              codeText.count == 3, codeText.utf8.allSatisfy({ (48...57).contains($0) }), let code = Int(codeText),
              // 1xx are interim answers the browser would take as final, with the real one after
              // them read as a second response: refused.
              (200...599).contains(code) else { throw notHTTP }
        var fields = HTTPFields()
        var declared: Int?
        var dropped = 0
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard let fieldName = HTTPField.Name(name) else { continue }
            switch fieldName.canonicalName {
            case "transfer-encoding":
                throw HearthError(.agentUnavailable, "the server in the workspace answered an HTTP/1.0 request with a transfer encoding",
                                  detail: "preview answer refused: Transfer-Encoding \(value.prefix(80).debugDescription)")
            case "content-length":
                // `5, 5` is one length; two different ones are an attempt at confusion.
                for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                    let digits = item.trimmingCharacters(in: .whitespaces)
                    guard !digits.isEmpty, digits.count <= 18, digits.utf8.allSatisfy({ (48...57).contains($0) }), let length = Int(digits),
                          declared == nil || declared == length else {
                        throw HearthError(.agentUnavailable, "the server in the workspace sent an invalid Content-Length",
                                          detail: "preview answer refused: Content-Length \(value.prefix(80).debugDescription)")
                    }
                    declared = length
                }
                continue
            case "set-cookie":
                if let kept = PreviewCookies.rewrite(value, path: cookiePath) {
                    fields.append(HTTPField(name: fieldName, value: kept))
                } else {
                    dropped += 1
                }
                continue
            default:
                guard !PreviewRoutes.hopByHop.contains(fieldName.canonicalName) else { continue }
                fields.append(HTTPField(name: fieldName, value: value))
            }
        }
        let framing: Framing = isHead || code == 204 || code == 304 ? .none : declared.map { .length($0) } ?? .untilClose
        return PreviewResponseHead(status: HTTPResponse.Status(code: code), fields: fields, framing: framing, droppedCookies: dropped)
    }

    /// Where the blank line ending a head is in `buffer`, searching from `from` (so a head that
    /// arrives in many pieces is scanned once, not once per piece).
    static func endOfHead(_ buffer: [UInt8], from: Int) -> Range<Int>? {
        var index = max(0, from - 3)
        while index + 4 <= buffer.count {
            if buffer[index] == 13, buffer[index + 1] == 10, buffer[index + 2] == 13, buffer[index + 3] == 10 { return index..<index + 4 }
            index += 1
        }
        return nil
    }
}
