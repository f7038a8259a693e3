public import HearthCore

/// Everything the API can ask of the control plane. The API layer parses and authorizes, then
/// hands exactly one of these to `WorkspaceManager.perform`.
public enum WorkspaceAction: Sendable {
    case create(CreateWorkspace)
    /// The workspaces of one tenant.
    case list(tenantId: String)
    case get(String)
    case start(String)
    case stop(String)
    case pause(String)
    case resume(String)
    case delete(String)
    /// Change a workspace's idle timeout and commit interval (seconds; nil: unchanged; 0: off).
    case configure(String, idleTimeoutSeconds: Int?, commitIntervalSeconds: Int?)
    /// Commit the workspace's state now and return the generation that holds it.
    case sync(String)
    /// Put a stopped workspace's state back as a generation holds it; the result is committed as
    /// the new head (trigger `rollback`).
    case rollback(String, generation: UInt64)
    /// A new workspace whose state starts as a generation of this one (nil: one committed now).
    case fork(String, generation: UInt64?, name: String?)
    /// The workspace's generations in the store.
    case generations(String)
    /// A directory at a generation, read from the store.
    case listGeneration(String, generation: UInt64, path: String)
    /// A file at a generation, read from the store.
    case readGeneration(String, generation: UInt64, path: String)
    /// Put one file back, with its mode, as a generation holds it (the workspace running).
    case restoreFile(String, generation: UInt64, path: String)
    /// The paths that changed between two generations.
    case diffGenerations(String, from: UInt64, to: UInt64)
}

public struct CreateWorkspace: Sendable {
    public var tenantId: String
    public var name: String?
    public var image: String?
    public var runtime: RuntimeKind?
    public var limits: ResourceLimits?
    /// The caller is the server's operator: may import images from the import directory.
    public var byOperator: Bool
    /// Seconds between interval commits; nil: the server's default; 0: none.
    public var commitIntervalSeconds: Int?
    /// Seconds without activity after which the running workspace is paused; nil or 0: never.
    public var idleTimeoutSeconds: Int?

    public init(tenantId: String = WorkspaceRecord.defaultTenant, name: String? = nil, image: String? = nil, runtime: RuntimeKind? = nil,
                limits: ResourceLimits? = nil, byOperator: Bool = false) {
        self.tenantId = tenantId
        self.byOperator = byOperator
        self.name = name
        self.image = image
        self.runtime = runtime
        self.limits = limits
    }
}

public enum ActionOutcome: Sendable {
    case workspace(Workspace)
    case workspaces([Workspace])
    case deleted
    case committed(WorkspaceCommit)
    case generations([WorkspaceGeneration])
    case generationListing(GenerationListing)
    case generationFile([UInt8])
    case generationDiff([GenerationChange], truncated: Bool)
    case restoredFile(RestoredFile)
}
