public import HearthRuntime

/// How Hearth drives runsc. Defaults suit a host without real KVM.
public struct GVisorConfiguration: Sendable {
    /// The runsc binary; looked up on PATH when nil.
    public var runscPath: String?
    /// `ptrace` works everywhere; `systrap` or `kvm` are faster where the host supports them.
    public var platform: String
    /// runsc's state directory (`--root`).
    public var stateRoot: String
    /// Files every sandbox gets read-only at `/.hearth`: the agent and the statx preload.
    public var agentDirectory: String
    /// How long a new sandbox may take to greet the host.
    public var bootTimeout: Duration
    /// Networking on (`hearth serve --network on`): each sandbox runs runsc's netstack
    /// (`--network=sandbox`) in a namespace of its own; nil keeps `--network=none`.
    public var networking: (any WorkspaceNetworking)?
    /// Where formatted disk images are kept to be copied for each new workspace (host-owned);
    /// nil formats each disk with `mkfs.ext4`.
    public var diskTemplates: String?

    public init(runscPath: String? = nil, platform: String = "ptrace", stateRoot: String,
                agentDirectory: String, bootTimeout: Duration = .seconds(20)) {
        self.runscPath = runscPath
        self.platform = platform
        self.stateRoot = stateRoot
        self.agentDirectory = agentDirectory
        self.bootTimeout = bootTimeout
    }
}
