import Foundation

/// Cookies between a browser and a previewed app, which is a tenant's code on Hearth's origin.
///
/// A guest's `Set-Cookie` is parsed the way a browser parses it (RFC 6265bis §5.6), not by
/// string prefix: browsers trim whitespace around the name, so `hearth_session =x` sets
/// `hearth_session`, and a nameless cookie (`=hearth_session=x`) is sent back as the bare value
/// `hearth_session=x`, which a server reads as that name. A cookie survives only if its name is
/// well formed and none of Hearth's; its `Domain` is removed (host-only) and its `Path` is forced to
/// the preview's own prefix, so it is never sent to Hearth itself or to another workspace's preview.
enum PreviewCookies {
    /// Names a guest may never set, compared without case: Hearth's session cookies (either form).
    static let reserved: Set<String> = ["hearth_session", "__host-hearth_session", PreviewOrigin.grantCookie, "__host-" + PreviewOrigin.grantCookie]

    /// The `Set-Cookie` value to pass on, with `Path` set to `path` and no `Domain`; nil drops it.
    static func rewrite(_ value: String, path: String) -> String? {
        var parts = value.split(separator: ";", omittingEmptySubsequences: false).makeIterator()
        guard let pair = parts.next(), let equals = pair.firstIndex(of: "=") else { return nil }
        let name = pair[..<equals].trimmingCharacters(in: .whitespaces)
        let cookieValue = pair[pair.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        guard isToken(name), !cookieValue.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        let lowered = name.lowercased()
        // `__Host-` and `__Secure-` cookies cannot be given a narrower path or lose Secure safely;
        // any name containing Hearth's session name is refused so no variant shadows it.
        if reserved.contains(lowered) || lowered.hasPrefix("__host-") || lowered.hasPrefix("__secure-") || lowered.contains("hearth_session") {
            return nil
        }
        var kept = ["\(name)=\(cookieValue)"]
        while let attribute = parts.next() {
            let trimmed = attribute.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { continue }
            let key = (trimmed.split(separator: "=", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
            if key == "domain" || key == "path" { continue }
            kept.append(trimmed)
        }
        kept.append("Path=\(path)")
        return kept.joined(separator: "; ")
    }

    /// The browser's `Cookie` header without Hearth's cookies: what a previewed app may see.
    static func forGuest(_ header: String) -> String? {
        let kept = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { pair in
            guard !pair.isEmpty else { return false }
            let name = (pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: .whitespaces).lowercased()
            return !name.isEmpty && !reserved.contains(name) && !name.contains("hearth_session")
        }
        return kept.isEmpty ? nil : kept.joined(separator: "; ")
    }

    /// An RFC 9110 token: what a cookie name must be.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
            }
        }
    }
}
