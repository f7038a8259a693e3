public import HearthCore

/// One allow rule: `[tcp:|udp:]TARGET[:PORT[-PORT]]`, where TARGET is a DNS name (`pypi.org`), a
/// wildcard (`*.pypi.org`: names under it, not itself) or a CIDR (`198.51.100.0/24`). TCP and
/// every port unless said otherwise.
public struct NetworkRule: Hashable, Sendable, CustomStringConvertible {
    public enum Target: Hashable, Sendable {
        case name(String)
        case cidr(CIDR)
    }
    public enum Proto: String, Hashable, Sendable, CaseIterable { case tcp, udp }

    public var target: Target
    public var proto: Proto
    public var ports: ClosedRange<UInt16>

    public static let maxLength = 300

    public init(target: Target, proto: Proto = .tcp, ports: ClosedRange<UInt16> = 1...65535) {
        self.target = target
        self.proto = proto
        self.ports = ports
    }

    public init(parsing text: String) throws(HearthError) {
        func refuse(_ why: String) -> HearthError {
            HearthError(.invalidArgument, "invalid network rule \"\(text.prefix(80))\": \(why)")
        }
        guard !text.isEmpty, text.utf8.count <= Self.maxLength else { throw refuse("empty or too long") }
        var rest = Substring(text.lowercased())
        proto = .tcp
        for candidate in Proto.allCases where rest.hasPrefix(candidate.rawValue + ":") {
            proto = candidate
            rest = rest.dropFirst(candidate.rawValue.count + 1)
        }
        ports = 1...65535
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw refuse("more than one port") }
        if parts.count == 2 {
            let range = parts[1].split(separator: "-", omittingEmptySubsequences: false)
            guard range.count <= 2, range.allSatisfy({ (1...5).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                  let low = UInt16(range[0]), let high = UInt16(range.last!), low >= 1, low <= high
            else { throw refuse("a port is 1-65535, a range low-high") }
            ports = low...high
        }
        let host = parts[0]
        if let first = host.first, first.isNumber, host.allSatisfy({ $0.isNumber || $0 == "." || $0 == "/" }) {
            guard let cidr = CIDR(host) else { throw refuse("not a network (host bits must be zero)") }
            target = .cidr(cidr)
        } else {
            guard NetworkRule.isValidPattern(host) else { throw refuse("not a DNS name or *.name") }
            target = .name(String(host))
        }
    }

    /// A lowercase DNS name of labels `[a-z0-9_-]{1,63}`, at most 253 bytes, optionally `*.` first.
    static func isValidPattern(_ pattern: Substring) -> Bool {
        let name = pattern.hasPrefix("*.") ? pattern.dropFirst(2) : pattern
        return isValidName(name) && name.contains(".")
    }

    static func isValidName(_ name: Substring) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f }
        }
    }

    /// Whether this rule's name pattern covers `name` (lowercase, no trailing dot).
    public func matches(name: String) -> Bool {
        guard case .name(let pattern) = target else { return false }
        if pattern.hasPrefix("*.") { return name.hasSuffix(pattern.dropFirst(1)) && name.utf8.count > pattern.utf8.count - 1 }
        return name == pattern
    }

    public var description: String {
        let host: String
        switch target {
        case .name(let name): host = name
        case .cidr(let cidr): host = cidr.prefix == 32 ? "\(cidr.base)" : "\(cidr)"
        }
        let port = ports == 1...65535 ? "" : ports.lowerBound == ports.upperBound ? ":\(ports.lowerBound)" : ":\(ports.lowerBound)-\(ports.upperBound)"
        return (proto == .tcp ? "" : "udp:") + host + port
    }
}
