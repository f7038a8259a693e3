/// A workspace's own network, when the server runs with networking on (`HearthNetwork`). A driver
/// asks for it before starting a sandbox and gives it back when the workspace is destroyed.
public protocol WorkspaceNetworking: Sendable {
    /// Makes the workspace's namespace, veth, address, filter and resolver (or returns those it has).
    func attach(workspace id: String) async throws -> WorkspaceNetworkAttachment
    /// Removes them; nothing of the workspace's network remains.
    func detach(workspace id: String) async
}

public struct WorkspaceNetworkAttachment: Sendable, Equatable {
    /// The network namespace the sandbox runs in (`/run/netns/…`).
    public var namespacePath: String
    /// The workspace's only DNS server: Hearth's resolver on the host end of its veth.
    public var nameserver: String

    public init(namespacePath: String, nameserver: String) {
        self.namespacePath = namespacePath
        self.nameserver = nameserver
    }
}
