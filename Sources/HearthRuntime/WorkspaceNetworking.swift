/// A workspace's own network, when the server runs with networking on (`HearthNetwork`). A driver
/// asks for it before starting a sandbox and gives it back when the workspace is destroyed.
public protocol WorkspaceNetworking: Sendable {
    /// Makes the workspace's namespace, veth, address, filter and resolver (or returns those it
    /// has). `preferring` asks for the guest address a saved machine was booted with; it is given
    /// when free, and otherwise the next free one is.
    func attach(workspace id: String, device: WorkspaceNetworkDevice, preferring: String?) async throws -> WorkspaceNetworkAttachment
    /// Removes them; nothing of the workspace's network remains.
    func detach(workspace id: String) async
}

extension WorkspaceNetworking {
    /// A gVisor sandbox's network: its netstack takes the namespace's address and routes.
    public func attach(workspace id: String) async throws -> WorkspaceNetworkAttachment {
        try await attach(workspace: id, device: .netstack, preferring: nil)
    }
}

/// What the sandbox plugs into its namespace.
public enum WorkspaceNetworkDevice: String, Sendable, Codable {
    /// The sandbox's own network stack reads the namespace's interface (gVisor `--network=sandbox`):
    /// the namespace's end of the veth holds the workspace's address and default route.
    case netstack
    /// A tap device in the namespace, joined to the veth's end frame for frame (tc `mirred`, as
    /// Kata does): a microVM's guest kernel holds the address and the namespace holds none.
    case tap
}

public struct WorkspaceNetworkAttachment: Sendable, Equatable {
    /// The network namespace the sandbox runs in (`/run/netns/…`).
    public var namespacePath: String
    /// The workspace's only DNS server: Hearth's resolver on the host end of its veth, which is
    /// also the workspace's gateway.
    public var nameserver: String
    /// The workspace's address, and the length of its link's prefix.
    public var address: String
    public var prefixLength: Int
    /// `.tap`: the tap's name in the namespace, which the jailer opens for the VMM.
    public var tapName: String?

    public init(namespacePath: String, nameserver: String, address: String, prefixLength: Int, tapName: String? = nil) {
        self.namespacePath = namespacePath
        self.nameserver = nameserver
        self.address = address
        self.prefixLength = prefixLength
        self.tapName = tapName
    }

    public var gateway: String { nameserver }
}
