/// An IPv4 address. Parsed strictly: four decimal parts of at most three digits, each 0–255.
public struct IPv4: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }), let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        self.value = value
    }

    public init(bytes: some Collection<UInt8>) {
        value = bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
    public var description: String { bytes.map(String.init).joined(separator: ".") }
    public static func < (a: IPv4, b: IPv4) -> Bool { a.value < b.value }
    /// `self + n`, wrapping: callers only add offsets inside a range they checked.
    public func adding(_ n: UInt32) -> IPv4 { IPv4(value &+ n) }
}

/// An IPv4 network, `a.b.c.d/n` (a bare address is a /32). Host bits must be zero.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public var base: IPv4
    public var prefix: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let base = IPv4(parts[0]) else { return nil }
        var prefix = 32
        if parts.count == 2 {
            guard (1...2).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let p = Int(parts[1]), p <= 32 else { return nil }
            prefix = p
        }
        self.init(base: base, prefix: prefix)
        guard self.base == base else { return nil }
    }

    /// `base` with its host bits cleared.
    public init(base: IPv4, prefix: Int) {
        self.prefix = max(0, min(32, prefix))
        self.base = IPv4(base.value & Self.mask(self.prefix))
    }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix) }
    public var mask: UInt32 { Self.mask(prefix) }
    public var last: IPv4 { IPv4(base.value | ~mask) }
    /// How many addresses, saturating at `UInt32.max` for a /0.
    public var size: UInt32 { prefix == 0 ? UInt32.max : UInt32(1) << UInt32(32 - prefix) }
    public func contains(_ address: IPv4) -> Bool { address.value & mask == base.value }
    public func contains(_ other: CIDR) -> Bool { other.prefix >= prefix && contains(other.base) }
    public func overlaps(_ other: CIDR) -> Bool { contains(other) || other.contains(self) }
    /// The smaller of two nested networks; nil when they are disjoint (CIDRs never partly overlap).
    public func intersection(_ other: CIDR) -> CIDR? { contains(other) ? other : other.contains(self) ? self : nil }
    public var description: String { "\(base)/\(prefix)" }
}
