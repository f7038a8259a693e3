import Foundation
import HearthRuntime

/// The host commands and files networking uses: `ip`, `nft`, `tc` and `/proc/sys`.
enum HostNet {
    @discardableResult
    static func run(_ argv: [String]) async throws -> HostCommand.Output {
        var argv = argv
        argv[0] = HostCommand.which(argv[0]) ?? argv[0]
        return try await HostCommand.run(argv, timeout: .seconds(10))
    }

    /// `ip ARGS`, throwing on failure.
    @discardableResult
    static func ip(_ args: [String]) async throws -> HostCommand.Output {
        let result = try await run(["ip"] + args)
        guard result.succeeded else { throw Failure(command: "ip " + args.joined(separator: " "), stderr: result.stderr) }
        return result
    }

    struct Failure: Error, CustomStringConvertible {
        var command: String
        var stderr: String
        var description: String { "\(command): \(stderr.prefix(300))" }
    }

    static func sysctl(_ key: String, _ value: String) {
        try? Data(value.utf8).write(to: URL(fileURLWithPath: "/proc/sys/" + key))
    }

    /// Networks this host already routes or holds (first field of `ip -o route` lines, and each
    /// address's network), except this server's own leftovers.
    static func networks(routes: String, addresses: String, ignoringPrefix prefix: String) -> [CIDR] {
        var found: [CIDR] = []
        for line in routes.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let first = fields.first else { continue }
            if let dev = fields.firstIndex(of: "dev"), dev + 1 < fields.count, fields[dev + 1].hasPrefix(prefix) { continue }
            var text = first
            if ["local", "broadcast", "unicast", "multicast"].contains(String(first)), fields.count > 1 { text = fields[1] }
            if let cidr = CIDR(text) ?? plainCIDR(text) { found.append(cidr) }
        }
        for line in addresses.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 3, let inet = fields.firstIndex(of: "inet"), inet + 1 < fields.count else { continue }
            if fields[1].hasPrefix(prefix) { continue }
            if let cidr = plainCIDR(fields[inet + 1]) { found.append(cidr) }
        }
        return found
    }

    /// `a.b.c.d/n` with host bits set (an interface address), as its network.
    static func plainCIDR(_ text: Substring) -> CIDR? {
        let parts = text.split(separator: "/")
        guard let address = IPv4(parts[0]) else { return nil }
        let prefix = parts.count == 2 ? Int(parts[1]) ?? 32 : 32
        return CIDR(base: address, prefix: prefix)
    }

    /// The host's addresses, except the gateways on this server's own veths (`prefix`): those are
    /// in the workspaces' network, blocked as a whole, and come and go with workspaces.
    static func hostAddresses(_ addresses: String, ignoringPrefix prefix: String) -> [IPv4] {
        addresses.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            if fields.count > 1, fields[1].hasPrefix(prefix) { return nil }
            guard let inet = fields.firstIndex(of: "inet"), inet + 1 < fields.count else { return nil }
            return IPv4(fields[inet + 1].split(separator: "/")[0])
        }
    }

    static func defaultInterface(routes: String) -> String? {
        for line in routes.split(separator: "\n") where line.hasPrefix("default ") {
            let fields = line.split(separator: " ")
            if let dev = fields.firstIndex(of: "dev"), dev + 1 < fields.count { return String(fields[dev + 1]) }
        }
        return nil
    }

    static func resolvConfNameserver() -> IPv4? {
        guard let text = try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver", let address = IPv4(fields[1]) { return address }
        }
        return nil
    }

    /// Deletes an nft table, and makes sure it is gone: a commit can fail when another transaction
    /// on the host's ruleset (another process's `nft`) lands between its cache and its commit.
    @discardableResult
    static func deleteTable(_ table: String) async -> Bool {
        for attempt in 0..<5 {
            _ = try? await run(["nft", "delete", "table", "inet", table])
            guard let listed = try? await run(["nft", "list", "table", "inet", table]), listed.succeeded else { return true }
            try? await Task.sleep(for: .milliseconds(20 << attempt))
        }
        return false
    }

    /// Namespaces and links named with `prefix` that an earlier server left behind, except those
    /// named in `keeping` (adopted).
    static func removeLeftovers(prefix: String, keeping: Set<String> = []) async {
        if let namespaces = try? await run(["ip", "netns", "list"]) {
            for line in namespaces.stdout.split(separator: "\n") {
                guard let name = line.split(separator: " ").first, name.hasPrefix(prefix + "-"), !keeping.contains(String(name)) else { continue }
                _ = try? await run(["ip", "netns", "del", String(name)])
            }
        }
        // Only veths: an operator's own interface that happens to share the prefix is never touched.
        if let links = try? await run(["ip", "-o", "link", "show", "type", "veth"]) {
            for line in links.stdout.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count > 1 else { continue }
                let name = String(fields[1].prefix { $0 != ":" && $0 != "@" })
                if name.hasPrefix(prefix), !keeping.contains(name), name.dropFirst(prefix.count).allSatisfy({ $0.isNumber || ($0.isLetter && $0.isLowercase) }),
                   !name.dropFirst(prefix.count).isEmpty {
                    _ = try? await run(["ip", "link", "del", name])
                }
            }
        }
    }
}

extension HostNet {
    /// A persistent tap in `namespace`, joined to the namespace's end of the veth frame for frame:
    /// each one's ingress is redirected to the other's egress (tc `mirred`, with a u32 filter that
    /// matches every frame: some kernels have no `matchall`). The namespace's own stack sees
    /// nothing and holds no address; the guest's kernel behind the tap owns the workspace's
    /// address. The tap is root's (a tap with no owner any uid may attach to): only the jailer,
    /// as root, attaches to it, for QEMU.
    static func joinTap(_ tap: String, to veth: String, in namespace: String, scratch: String) async throws {
        try await ipBatch(["tuntap add dev \(tap) mode tap user 0", "link set \(veth) up", "link set \(tap) up"], in: namespace, scratch: scratch)
        var filters = [veth, tap].map { "qdisc add dev \($0) ingress" }
        for (from, to) in [(veth, tap), (tap, veth)] {
            filters.append("filter add dev \(from) parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev \(to)")
        }
        try await batch("tc", filters, in: namespace, scratch: scratch)
    }

    /// `ip [-n NAMESPACE] -batch FILE`: the lines in one process, stopping at the first that fails.
    static func ipBatch(_ lines: [String], in namespace: String? = nil, scratch: String) async throws {
        try await batch("ip", lines, in: namespace, scratch: scratch)
    }

    /// `ip` or `tc` with `-batch`, from a file written for it in the host-owned `scratch` directory
    /// (HostCommand gives a program no stdin). Every word in the lines is the server's own.
    static func batch(_ program: String, _ lines: [String], in namespace: String?, scratch: String) async throws {
        let path = scratch + "/\(program)-batch-\(UInt64.random(in: 0...UInt64.max)).txt"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await run([program] + (namespace.map { ["-n", $0] } ?? []) + ["-batch", path])
        guard result.succeeded else { throw Failure(command: "\(program) -batch: " + lines.joined(separator: "; "), stderr: result.stderr) }
    }
}
