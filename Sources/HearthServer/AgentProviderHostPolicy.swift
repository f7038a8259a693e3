import Foundation
import Glibc
import HearthCore

/// Which hosts a tenant's provider `base_url` may reach. The server makes that connection itself,
/// from the host, with the tenant's key, and streams the answer back into the session: a base URL
/// naming loopback, the cloud metadata address, a private network or multicast would let a tenant
/// admin read the host's internal services through the model's "answer" (SSRF). Those ranges are
/// refused unless the operator names them (`hearth serve --agent-provider-allow CIDR`, e.g. a
/// self-hosted vLLM on 10.0.0.0/8, or 127.0.0.0/8 for a llama.cpp server on the same machine).
///
/// The name is resolved when the provider is set and again before every turn, and every address it
/// resolves to must pass. A name that re-resolves between that check and the HTTP client's own
/// lookup (DNS rebinding) is not caught: ARCHITECTURE.md lists it.
struct AgentProviderHostPolicy: Sendable {
    let allowed: [CIDR]

    init(allowed: [String]) { self.allowed = allowed.compactMap(CIDR.init) }

    static let refusedRanges: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "fe80::/10", "fc00::/7", "ff00::/8", "64:ff9b::/96", "2002::/16",
    ].compactMap(CIDR.init)

    /// Why `address` may not be reached, or nil when it may.
    func refusal(of address: [UInt8]) -> String? {
        if allowed.contains(where: { $0.contains(address) }) { return nil }
        guard Self.refusedRanges.contains(where: { $0.contains(address) }) else { return nil }
        return "it is a loopback, link-local, private or reserved address"
    }

    /// Checks `baseURL`'s host: a literal directly, a name through the resolver. A name that does not
    /// resolve now is let through when `unresolvedIsFine` (setting a provider before its DNS exists);
    /// before a turn it is refused, since the HTTP client could not connect anyway.
    func check(baseURL: String, unresolvedIsFine: Bool) async throws {
        guard let host = URL(string: baseURL)?.host, !host.isEmpty else {
            throw HearthError(.invalidArgument, "base_url has no host")
        }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let addresses: [[UInt8]]
        if let literal = CIDR.parseAddress(bare) {
            addresses = [literal]
        } else {
            addresses = await Self.resolveOffThePool(bare)
            if addresses.isEmpty {
                if unresolvedIsFine { return }
                throw HearthError(.invalidArgument, "the provider's host \(bare.prefix(253)) does not resolve")
            }
        }
        for address in addresses {
            if let why = refusal(of: address) {
                throw HearthError(.forbidden, "the provider's host \(bare.prefix(253)) may not be reached: \(why); the operator can allow a range with --agent-provider-allow",
                                  detail: "address \(address)")
            }
        }
    }

    /// `getaddrinfo` blocks for as long as DNS takes: on a dispatch thread, never one of Swift's
    /// cooperative threads (two on a two-core host), so a provider name whose DNS never answers
    /// cannot stall the server.
    static func resolveOffThePool(_ name: String) async -> [[UInt8]] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async { continuation.resume(returning: resolve(name)) }
        }
    }

    /// Every IPv4 and IPv6 address `name` resolves to (IPv4-mapped IPv6 as IPv4), at most 64.
    static func resolve(_ name: String) -> [[UInt8]] {
        // No hints (so no C struct initialiser, whose owning module varies): every socket type's
        // entry comes back, and the duplicates are dropped below.
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, nil, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var out: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor, out.count < 64 {
            if let sa = entry.pointee.ai_addr {
                if entry.pointee.ai_family == AF_INET {
                    let bytes = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                    }
                    if !out.contains(bytes) { out.append(bytes) }
                } else if entry.pointee.ai_family == AF_INET6 {
                    let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                    }
                    let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
                    let address = mapped ? Array(bytes[12...]) : bytes
                    if !out.contains(address) { out.append(address) }
                }
            }
            cursor = entry.pointee.ai_next
        }
        return out
    }
}
