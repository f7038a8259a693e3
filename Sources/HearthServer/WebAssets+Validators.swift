import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The IDE is ES modules that import each other by URL. A cached module from before an upgrade
/// next to a fresh one would mix versions, so no file is cached without asking: every response
/// is `Cache-Control: no-cache` with an `ETag` of its content, and an unchanged file costs the
/// browser a 304 and no body.
extension WebAssets {
    /// A strong validator of the bytes: FNV-1a 64 and the length. Not a security boundary (the
    /// files are ours); it only has to change when the content does.
    static func entityTag(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "\"\(bytes.count)-\(String(repeating: "0", count: 16 - hex.count))\(hex)\""
    }

    /// True when `If-None-Match` (a list, or `*`) names `tag`; weak forms (`W/"…"`) match too, as
    /// RFC 9110 says for If-None-Match.
    static func matches(ifNoneMatch header: String?, _ tag: String) -> Bool {
        guard let header, header.utf8.count <= 8192 else { return false }
        for part in header.split(separator: ",").prefix(64) {
            var candidate = part.trimmingCharacters(in: .whitespaces)
            if candidate == "*" { return true }
            if candidate.hasPrefix("W/") { candidate.removeFirst(2) }
            if candidate == tag { return true }
        }
        return false
    }

    static func validated(_ bytes: [UInt8], contentType: String, request: HTTPFields) -> Response {
        let tag = entityTag(bytes)
        var headers = securityHeaders
        headers[.eTag] = tag
        headers[.cacheControl] = "no-cache"
        if matches(ifNoneMatch: request[.ifNoneMatch], tag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
