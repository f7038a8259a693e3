import Foundation

/// What bounds a client's hold on the server: timeouts, connections per address, request rates,
/// and which proxies may name the client's address.
public struct ServerLimits: Sendable {
    /// A new connection must deliver its first request head within this, or it is closed: a
    /// silent or slowly dripping connection costs a socket for this long at most.
    public var headerTimeout: Duration = .seconds(30)
    /// A keep-alive connection idle this long between requests, or a request body that makes no
    /// progress this long, is closed. (A response being streamed is not idle; WebSockets are
    /// kept honest by their pings.)
    public var idleTimeout: Duration = .seconds(120)
    /// Open connections allowed per client address; past it a new one is closed at once.
    /// Trusted proxies are exempt (their connections carry many clients).
    public var maxConnectionsPerAddress = 256
    /// Peers (CIDRs such as `10.0.0.0/8` or `::1/128`) whose `X-Forwarded-For` names the client.
    /// From anyone else the header is ignored.
    public var trustedProxies: [String] = []
    /// Token buckets: per client address, per credential, and for sign-ins per address.
    public var perAddress = RateRule(burst: 2400, perSecond: 1200)
    public var perCredential = RateRule(burst: 1200, perSecond: 600)
    public var signInsPerAddress = RateRule(burst: 60, perSecond: 1)

    public init() {}
}

/// A token bucket: `burst` requests at once, refilled at `perSecond`.
public struct RateRule: Sendable, Equatable {
    public var burst: Double
    public var perSecond: Double
    public init(burst: Double, perSecond: Double) {
        self.burst = burst
        self.perSecond = perSecond
    }
}
