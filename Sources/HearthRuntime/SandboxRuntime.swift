public import HearthCore
public import Logging

/// What a runtime needs to build a sandbox. Runtime-neutral: a microVM turns `rootfs` into a disk,
/// gVisor serves it through its gofer.
public struct SandboxSpec: Sendable {
    public var id: String
    /// The image's root filesystem, read-only and shared between workspaces.
    public var image: ImageRef
    public var limits: ResourceLimits
    /// Private directory for this sandbox's state (overlay upper layer, snapshots, logs).
    public var stateDirectory: String

    public init(id: String, image: ImageRef, limits: ResourceLimits, stateDirectory: String) {
        self.id = id
        self.image = image
        self.limits = limits
        self.stateDirectory = stateDirectory
    }
}

/// What the runtime reports about a sandbox it may or may not still have.
public enum SandboxStatus: String, Sendable, Equatable {
    case running
    case paused
    case stopped
    case missing
}

/// A sandbox runtime: gVisor, a QEMU microVM, or a test double.
///
/// The control plane only calls these methods and owns every decision about state; a runtime
/// owns how a sandbox is built, run, snapshotted and torn down, and how the agent is reached.
/// Every call is idempotent where the name says an end state (`stop`, `destroy`).
public protocol SandboxRuntime: Sendable {
    var kind: RuntimeKind { get }

    /// Checks that the runtime can run a sandbox here, by trying, not by looking for files.
    func probe() async -> RuntimeAvailability

    /// Prepares the sandbox's disk (a copy-on-write layer over the image) without running it.
    func prepare(_ spec: SandboxSpec) async throws

    /// Boots the sandbox and returns a connected, greeted agent.
    func start(_ spec: SandboxSpec) async throws -> AgentConnection

    /// Reaches the agent of a sandbox that is already running (after a server restart).
    func reconnect(_ spec: SandboxSpec) async throws -> AgentConnection

    /// Saves memory and disk state under the state directory and stops the sandbox.
    func pause(_ spec: SandboxSpec, agent: AgentConnection?) async throws

    /// Restores a paused sandbox; running processes continue where they were.
    func resume(_ spec: SandboxSpec) async throws -> AgentConnection

    /// Stops the sandbox: asks politely, then forces after `grace`. Its disk layer is kept.
    func stop(_ spec: SandboxSpec, grace: Duration) async throws

    /// Removes everything: processes, mounts, disk layer, snapshots.
    func destroy(_ spec: SandboxSpec) async throws

    func status(_ spec: SandboxSpec) async -> SandboxStatus

    /// Whether a workspace gets a disk of its own whose size `ResourceLimits.diskMiB` sets.
    var limitsDisk: Bool { get }

    /// Runs `body` with the host directory that holds everything the workspace changed (gVisor:
    /// the overlay's upper layer), made readable for the call if it is not (a stopped workspace's
    /// disk is mounted, then unmounted). Returns nil when this runtime keeps no such directory or
    /// the workspace has none yet. The directory is the guest's: `body` must resolve nothing in it
    /// through a link.
    func withChangedLayer<T: Sendable>(_ spec: SandboxSpec, _ body: (String) async throws -> T) async throws -> T?

    /// Replaces everything a stopped (or never started) workspace changed with what `fill` puts
    /// into the directory it is given (which does not exist yet, in a place only the host writes).
    /// The old layer is kept until `fill` has succeeded, and removed after. Throws when this
    /// runtime cannot (`replacesChangedLayer` false).
    func replaceChangedLayer(_ spec: SandboxSpec, _ fill: (String) async throws -> Void) async throws
    /// Whether `replaceChangedLayer` is implemented (rollback and fork).
    var replacesChangedLayer: Bool { get }

    /// The path the workspace's agent knows as `layerPath` (a path inside the changed layer, `/`
    /// separated, no leading slash). gVisor's layer is the root filesystem's: `/` + the path.
    func agentPath(ofLayerPath layerPath: String, _ spec: SandboxSpec) -> String
}

extension SandboxRuntime {
    public var limitsDisk: Bool { false }
    public func withChangedLayer<T: Sendable>(_ spec: SandboxSpec, _ body: (String) async throws -> T) async throws -> T? { nil }
    public var replacesChangedLayer: Bool { false }
    public func agentPath(ofLayerPath layerPath: String, _ spec: SandboxSpec) -> String { "/" + layerPath }
    public func replaceChangedLayer(_ spec: SandboxSpec, _ fill: (String) async throws -> Void) async throws {
        throw HearthError(.conflict, "this workspace's runtime cannot roll its state back yet")
    }
}
