import Foundation
import Hummingbird

/// The browser session cookie. Behind TLS (a `https` public URL) it is `__Host-hearth_session`,
/// Secure, so no subdomain or plain-HTTP page can set or read it; on plain HTTP browsers refuse
/// `__Host-` cookies, so it is `hearth_session`. Always HttpOnly and SameSite=Strict, Path=/.
struct SessionCookies: Sendable {
    /// `https://hearth.example.com` when a TLS proxy fronts the server; nil on plain loopback HTTP.
    let publicURL: String?

    var secure: Bool { publicURL?.hasPrefix("https://") ?? false }
    var name: String { secure ? "__Host-hearth_session" : "hearth_session" }

    func setCookie(_ secret: String, maxAge: Int) -> String {
        "\(name)=\(secret); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (secure ? "; Secure" : "")
    }

    var clearCookie: String { setCookie("", maxAge: 0) }

    func session(in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == name, !parts[1].isEmpty { return String(parts[1]) }
            }
        }
        return nil
    }

    /// The request's headers without Hearth's session cookie: what a previewed app may see.
    func strippingSession(_ cookieHeader: String) -> String? {
        let kept = cookieHeader.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix(name + "=") && !$0.isEmpty }
        return kept.isEmpty ? nil : kept.joined(separator: "; ")
    }

    /// Whether `origin` is this server's: the public URL's, or else the one the Host header names.
    func isOwnOrigin(_ origin: String, request: Request) -> Bool {
        if let publicURL { return origin == publicURL.trimmingSuffix("/") }
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
