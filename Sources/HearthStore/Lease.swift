public import Foundation

/// Time as the lease logic sees it. Injected so tests expire leases without sleeping.
public protocol LeaseClock: Sendable {
    func now() -> Date
}

public struct WallClock: LeaseClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// The single-writer lease of a volume, stored next to its generations and replaced only by
/// compare-and-swap. Each new holder takes a higher epoch; the epoch is written into every generation.
public struct Lease: Codable, Sendable, Equatable {
    public var epoch: UInt64
    public var owner: String
    public var expiresAt: Date
    /// Set by a clean release: the next holder knows nothing can be in flight and needs no fence.
    public var released: Bool

    static func decode(_ bytes: [UInt8]) throws -> Lease {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(Lease.self, from: Data(bytes)) } catch {
            throw StoreError(.damaged, "the lease object does not decode", detail: "\(error)")
        }
    }

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return Array(try! encoder.encode(self))
    }
}

/// Settings of the writer lease. Renew at a third of the TTL; stop writing once the remaining time is
/// under `safetyMargin`, so a writer stalled by a pause or a slow disk fences itself before anyone can
/// take over (the LiteFS rule), and the epoch check on publish catches what the clock cannot.
public struct LeasePolicy: Sendable {
    public var ttl: TimeInterval
    public var safetyMargin: TimeInterval

    public init(ttl: TimeInterval = 30, safetyMargin: TimeInterval = 2) {
        self.ttl = ttl
        self.safetyMargin = safetyMargin
    }

    public var renewInterval: TimeInterval { ttl / 3 }
}

/// Owner identity written into leases and generations: host and process, like Litestream's.
public func defaultWriterIdentity() -> String {
    "\(ProcessInfo.processInfo.hostName):\(getpid())"
}
