/// Whether a runtime works on this host, and why not.
public struct RuntimeAvailability: Sendable, Codable, Equatable {
    public var runtime: RuntimeKind
    public var available: Bool
    /// A mode inside the runtime: `ptrace` or `systrap` for gVisor, `kvm` or `tcg` for QEMU.
    public var mode: String?
    public var reason: String

    public init(runtime: RuntimeKind, available: Bool, mode: String? = nil, reason: String) {
        self.runtime = runtime
        self.available = available
        self.mode = mode
        self.reason = reason
    }
}
