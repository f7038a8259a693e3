import Foundation
import HearthCore
import Hummingbird
import Glibc

/// An address range such as `10.0.0.0/8` or `fd00::/8`.
struct CIDR: Sendable, Equatable {
    var network: [UInt8]
    var prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = CIDR.parseAddress(String(first)) else { return nil }
        let bits = address.count * 8
        if parts.count == 2 {
            guard let prefix = Int(parts[1]), (0...bits).contains(prefix) else { return nil }
            self.prefix = prefix
        } else {
            self.prefix = bits
        }
        network = address
    }

    func contains(_ address: [UInt8]) -> Bool {
        guard address.count == network.count else { return false }
        var remaining = prefix
        for (a, n) in zip(address, network) {
            guard remaining > 0 else { return true }
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if a & mask != n & mask { return false }
            remaining -= 8
        }
        return true
    }

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address; IPv4-mapped IPv6 becomes IPv4.
    static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }
}

/// Decides a request's client address: the peer's, unless the peer is a trusted proxy, in which
/// case `X-Forwarded-For` is read from the right, skipping trusted hops, and the first untrusted
/// address is the client. A header from an untrusted peer is ignored, so a client cannot choose
/// the address its limits and audit events are filed under.
struct TrustedProxies: Sendable {
    let ranges: [CIDR]

    static let none = TrustedProxies(ranges: [])
    init(ranges: [CIDR]) { self.ranges = ranges }

    init(_ cidrs: [String]) throws {
        ranges = try cidrs.map { text in
            guard let cidr = CIDR(text) else { throw HearthError(.invalidArgument, "\(text) is not an address range such as 10.0.0.0/8") }
            return cidr
        }
    }

    func isTrusted(_ address: String) -> Bool {
        guard !ranges.isEmpty, let bytes = CIDR.parseAddress(address) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// The client's address for a request from `peer` carrying `forwardedFor` headers.
    func client(peer: String, forwardedFor: [String]) -> String {
        guard isTrusted(peer), !forwardedFor.isEmpty else { return peer }
        // At most 32 hops are read: the header is client-supplied and bounded here.
        let hops = forwardedFor.joined(separator: ",").split(separator: ",", omittingEmptySubsequences: true)
            .suffix(32).map { $0.trimmingCharacters(in: .whitespaces) }
        var client = peer
        for hop in hops.reversed() {
            guard CIDR.parseAddress(hop) != nil else { break }
            client = hop
            if !isTrusted(hop) { break }
        }
        return client
    }
}


/// Sets the request's client address from `X-Forwarded-For` when the peer is a trusted proxy.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = HearthContext
    let proxies: TrustedProxies

    func handle(_ request: Request, context: HearthContext, next: (Request, HearthContext) async throws -> Response) async throws -> Response {
        guard !proxies.ranges.isEmpty, let peer = context.remoteAddress?.ipAddress else { return try await next(request, context) }
        var context = context
        let forwarded = request.headers[values: .xForwardedFor]
        let client = proxies.client(peer: peer, forwardedFor: forwarded)
        if client != peer { context.forwardedClient = client }
        return try await next(request, context)
    }
}
