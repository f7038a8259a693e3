import Foundation
public import HearthAgent
public import HearthCore
public import HearthRuntime
public import Logging
public import Synchronization

/// A fake sandbox runtime: the real guest agent served in this process, over the socketpair
/// transport `InProcessAgent` provides. No isolation and no root: a workspace's processes run as
/// the test process, in `STATE/workspace`. It lets the API, auth, tenancy, lifecycle and
/// error-path tests run in seconds; anything about isolation, images, disks or pausing real
/// memory needs a real runtime.
///
/// One agent "boot" per start: a fresh `AgentContext` and secret, provisioned on the first
/// channel; reconnect and resume open new sessions of the same agent and must prove the secret.
/// Pause only closes the channel (processes keep running), which is what a test of the API needs.
public final class ProcessRuntime: SandboxRuntime {
    struct Booted {
        var context: AgentContext
        var secret: [UInt8]
        var status: SandboxStatus
    }

    public let kind = RuntimeKind.process
    private let sandboxes = Mutex<[String: Booted]>([:])
    private let logger: Logger
    /// Set to make `start` fail with this error (an error-path test's broken runtime).
    public let failStarts = Mutex<HearthError?>(nil)
    /// Makes pauses throw, as a runtime whose checkpoint failed (error-path and failure-metric tests).
    public let failPauses = Mutex<HearthError?>(nil)

    public init(logger: Logger = Logger(label: "hearth.test.process")) {
        self.logger = logger
    }

    public func probe() async -> RuntimeAvailability {
        let agent = InProcessAgent.executablePath
        guard FileManager.default.isExecutableFile(atPath: agent) else {
            return RuntimeAvailability(runtime: .process, available: false, reason: "the agent is not built at \(agent)")
        }
        return RuntimeAvailability(runtime: .process, available: true, mode: "in-process", reason: "the real agent in this process; no isolation")
    }

    public func prepare(_ spec: SandboxSpec) async throws {
        try FileManager.default.createDirectory(atPath: Self.workspace(spec), withIntermediateDirectories: true)
    }

    public func start(_ spec: SandboxSpec) async throws -> AgentConnection {
        if let error = failStarts.withLock({ $0 }) { throw error }
        try await prepare(spec)
        let context = AgentContext(executablePath: InProcessAgent.executablePath, defaultDirectory: Self.workspace(spec))
        let secret = InProcessAgent.randomSecret()
        let agent = try await InProcessAgent.connect(context: context, secret: secret, provision: true, logger: logger)
        sandboxes.withLock { $0[spec.id] = Booted(context: context, secret: secret, status: .running) }
        return agent
    }

    public func reconnect(_ spec: SandboxSpec) async throws -> AgentConnection {
        guard let booted = sandboxes.withLock({ $0[spec.id] }), booted.status == .running else {
            throw HearthError(.agentUnavailable, "the workspace is not running", detail: "process runtime: no running agent for \(spec.id)")
        }
        return try await InProcessAgent.connect(context: booted.context, secret: booted.secret, mayProvision: false, logger: logger)
    }

    public func pause(_ spec: SandboxSpec, agent: AgentConnection?) async throws {
        if let error = failPauses.withLock({ $0 }) { throw error }
        agent?.close()
        try setStatus(.paused, of: spec, from: [.running])
    }

    public func resume(_ spec: SandboxSpec) async throws -> AgentConnection {
        try setStatus(.running, of: spec, from: [.paused])
        return try await reconnect(spec)
    }

    public func stop(_ spec: SandboxSpec, grace: Duration) async throws {
        sandboxes.withLock { $0[spec.id]?.status = .stopped }
    }

    public func destroy(_ spec: SandboxSpec) async throws {
        _ = sandboxes.withLock { $0.removeValue(forKey: spec.id) }
        try? FileManager.default.removeItem(atPath: Self.workspace(spec))
    }

    public func status(_ spec: SandboxSpec) async -> SandboxStatus {
        sandboxes.withLock { $0[spec.id]?.status } ?? .missing
    }

    /// The `hearth-sync` relay of a workspace's agent: a test serves it on a socket of its own.
    public func guestSyncRelay(of id: String) -> GuestSyncRelay? {
        sandboxes.withLock { $0[id]?.context.sync }
    }

    /// Each sandbox this runtime holds, by workspace id, and what it is doing.
    public var statuses: [String: SandboxStatus] { sandboxes.withLock { $0.mapValues(\.status) } }

    static func workspace(_ spec: SandboxSpec) -> String { spec.stateDirectory + "/workspace" }

    /// The workspace's directory is all it has: committed as it is.
    public func withChangedLayer<T: Sendable>(_ spec: SandboxSpec, _ body: (String) async throws -> T) async throws -> T? {
        let directory = Self.workspace(spec)
        guard FileManager.default.fileExists(atPath: directory) else { return nil }
        return try await body(directory)
    }

    public var replacesChangedLayer: Bool { true }

    /// This runtime's agent sees the host's paths: its layer is the workspace's directory.
    public func agentPath(ofLayerPath layerPath: String, _ spec: SandboxSpec) -> String { Self.workspace(spec) + "/" + layerPath }

    /// The workspace's directory, replaced whole; only while it is stopped or not yet started.
    public func replaceChangedLayer(_ spec: SandboxSpec, _ fill: (String) async throws -> Void) async throws {
        guard [.stopped, .missing].contains(await status(spec)) else { throw HearthError(.conflict, "the workspace must be stopped to be rolled back") }
        let directory = Self.workspace(spec), incoming = spec.stateDirectory + "/workspace.incoming"
        try FileManager.default.createDirectory(atPath: spec.stateDirectory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: incoming)
        try await fill(incoming)
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.moveItem(atPath: incoming, toPath: directory)
    }

    private func setStatus(_ status: SandboxStatus, of spec: SandboxSpec, from allowed: Set<SandboxStatus>) throws {
        try sandboxes.withLock { sandboxes in
            guard let current = sandboxes[spec.id]?.status, allowed.contains(current) else {
                throw HearthError(.conflict, "the workspace cannot go to \(status.rawValue) now",
                                  detail: "process runtime: \(spec.id) is \(sandboxes[spec.id]?.status.rawValue ?? "missing")")
            }
            sandboxes[spec.id]?.status = status
        }
    }
}
