public import Foundation
public import HearthControlPlane

/// How agent sessions run in this server. Tests inject the driver, the clock and the load probe.
public struct AgentSessionOptions: Sendable {
    /// Makes the turn driver; nil uses the server's provider client.
    public var driver: (@Sendable (AgentTurnEnvironment) -> any AgentTurnDriver)?
    /// Makes each turn's loop (provider client, scrubber, guards); nil uses `ProviderAgentLoop`.
    public var loop: AgentTurnLoopFactory?
    /// Tool choice, final-step policy and limits of the server's loops.
    public var loopDefaults = AgentLoopDefaults()
    public var clock: any AgentClock = SystemAgentClock()
    public var systemLoad: @Sendable () -> SystemLoad = SystemLoadProbe.read
    /// Above this used-memory fraction new sessions get 503 with Retry-After.
    public var admissionThreshold = 0.9
    /// Events one SSE reader may fall behind before it is disconnected.
    public var readerQueueLimit = 1024
    /// How often idle sessions are looked for.
    public var sweepEvery: Duration = .seconds(30)
    /// Address ranges (CIDR) a provider's base URL may reach although they are loopback, private or
    /// link-local (`--agent-provider-allow`): a self-hosted model on the operator's network.
    public var providerHostsAllowed: [String] = []

    public init() {}
}
