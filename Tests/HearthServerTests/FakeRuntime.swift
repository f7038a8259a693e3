import HearthCore
import HearthRuntime
import HearthServer
import HearthTestKit
import Synchronization

/// A runtime with no sandbox: every start, resume or reconnect is the real agent in-process
/// (`InProcessAgent`), so lifecycle metrics can be driven without root. `failPause` makes the next
/// pauses throw, as a runtime whose checkpoint failed.
final class FakeRuntime: SandboxRuntime, SandboxRuntimeBox {
    let kind = RuntimeKind.process
    let statuses = Mutex<[String: SandboxStatus]>([:])
    let failPause = Mutex(false)
    var runtime: any SandboxRuntime { self }

    func probe() async -> RuntimeAvailability { RuntimeAvailability(runtime: .process, available: true, reason: "in-process test runtime") }
    func prepare(_ spec: SandboxSpec) async throws {}

    func start(_ spec: SandboxSpec) async throws -> AgentConnection {
        let agent = try await InProcessAgent.connect()
        statuses.withLock { $0[spec.id] = .running }
        return agent
    }

    func reconnect(_ spec: SandboxSpec) async throws -> AgentConnection { try await start(spec) }

    func pause(_ spec: SandboxSpec, agent: AgentConnection?) async throws {
        if failPause.withLock({ $0 }) { throw HearthError(.runtimeFailed, "the checkpoint failed", detail: "fake runtime") }
        agent?.close()
        statuses.withLock { $0[spec.id] = .paused }
    }

    func resume(_ spec: SandboxSpec) async throws -> AgentConnection { try await start(spec) }

    func stop(_ spec: SandboxSpec, grace: Duration) async throws { statuses.withLock { $0[spec.id] = .stopped } }
    func destroy(_ spec: SandboxSpec) async throws { statuses.withLock { $0[spec.id] = nil } }
    func status(_ spec: SandboxSpec) async -> SandboxStatus { statuses.withLock { $0[spec.id] ?? .missing } }
}
