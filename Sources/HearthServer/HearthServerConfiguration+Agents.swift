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
    /// Turns one tenant may have running at once; a send beyond it gets 429 `too_many_running_turns`.
    public var maxRunningTurnsPerTenant = AgentSessionManager.defaultMaxRunningTurnsPerTenant
    /// Bytes of stored history (message JSON) sent to the provider each turn; older turns are left
    /// out of the request (never out of the store or the event log).
    public var historyBudgetBytes = AgentLoopTurnDriver.defaultHistoryBudgetBytes
    /// An event stream that has written nothing for this long gets a `: keepalive` comment, so a
    /// proxy (nginx cuts at 60 s) keeps it open while a turn waits on a slow provider. At least 1 s.
    public var keepaliveInterval: Duration = .seconds(15)
    /// What event streams wait on between keepalives; tests fire it by hand.
    public var streamTimer: any StreamTimer = SystemStreamTimer()

    public init() {}
}
