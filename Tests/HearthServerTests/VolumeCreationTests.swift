import Foundation
import HearthControlPlane
import HearthCore
import HearthHost
import HearthServer
import HearthServerTestKit
import HearthStore
import HearthTestKit
import HummingbirdTesting
import Testing

/// The real store's `WorkspaceVolumes`, with `create` that a test can hold and make fail.
final class GatedVolumes: WorkspaceVolumes, @unchecked Sendable {
    let inner: any WorkspaceVolumes
    private let lock = NSLock()
    private var failing = false
    private var holding = false
    private var held: [CheckedContinuation<Void, Never>] = []
    private var creates = 0

    init(_ inner: any WorkspaceVolumes) { self.inner = inner }

    func fail(_ on: Bool) { lock.withLock { failing = on } }
    func hold() { lock.withLock { holding = true } }
    var createCalls: Int { lock.withLock { creates } }
    func release() {
        let waiting = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            holding = false
            defer { held = [] }
            return held
        }
        waiting.forEach { $0.resume() }
    }

    func create(workspace: String, tenant: String) async throws {
        let fails = lock.withLock { creates += 1; return failing }
        await withCheckedContinuation { continuation in
            let wait = lock.withLock { () -> Bool in
                if holding { held.append(continuation) }
                return holding
            }
            if !wait { continuation.resume() }
        }
        if fails { throw HearthError(.storeUnavailable, "the store refused") }
        try await inner.create(workspace: workspace, tenant: tenant)
    }

    func delete(workspace: String) async throws { try await inner.delete(workspace: workspace) }
    func commit(workspace: String, tenant: String, layer: String, trigger: CommitTrigger, maxBytes: UInt64) async throws -> WorkspaceCommit {
        try await inner.commit(workspace: workspace, tenant: tenant, layer: layer, trigger: trigger, maxBytes: maxBytes)
    }
    func generations(workspace: String, tenant: String) async throws -> [WorkspaceGeneration] {
        try await inner.generations(workspace: workspace, tenant: tenant)
    }
    func list(workspace: String, tenant: String, generation: UInt64, path: String, limit: Int) async throws -> GenerationListing {
        try await inner.list(workspace: workspace, tenant: tenant, generation: generation, path: path, limit: limit)
    }
    func read(workspace: String, tenant: String, generation: UInt64, path: String, limit: Int) async throws -> [UInt8] {
        try await inner.read(workspace: workspace, tenant: tenant, generation: generation, path: path, limit: limit)
    }
    func restore(workspace: String, tenant: String, generation: UInt64, into directory: String) async throws {
        try await inner.restore(workspace: workspace, tenant: tenant, generation: generation, into: directory)
    }
    func diff(workspace: String, tenant: String, from: UInt64, to: UInt64, limit: Int) async throws -> (changes: [GenerationChange], truncated: Bool) {
        try await inner.diff(workspace: workspace, tenant: tenant, from: from, to: to, limit: limit)
    }
}

/// A workspace's key and volume are made off the create's critical path: while its sandbox boots,
/// or, for a warm-pool sandbox, just after the claim. Neither may leave a running sandbox without
/// a volume, or a volume for a workspace that is gone.
@Suite(.serialized, .timeLimit(.minutes(2))) struct VolumeCreationTests {
    static func server(warmPool: Int = 0) async throws -> (HearthService, GatedVolumes, ProcessRuntime, admin: String, data: String) {
        let data = ProcessHost.scratchDirectory("hearth-volume-creation")
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        configuration.warmPoolSize = warmPool
        let gated = GatedVolumes(try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:],
                                                             logger: ProcessHost.quietLogger))
        configuration.workspaceVolumes = gated
        let runtime = ProcessRuntime()
        let service = try await ProcessHost.service(configuration, runtime: runtime)
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return (service, gated, runtime, admin, data)
    }

    /// Creates a workspace, which claims the pooled sandbox, and returns its id.
    static func claim(_ client: some TestClientProtocol, admin: String) async throws -> String {
        let created = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"claimed"}"#)
        #expect(created.status == 201, "\(created.body)")
        return try ProcessRuntimeRouterTests.workspace(created.body).id
    }

    @Test func aVolumeThatCannotBeMadeFailsTheCreateAndStopsTheBootedSandbox() async throws {
        let (service, gated, runtime, admin, _) = try await Self.server()
        gated.fail(true)
        try await service.application().test(.router) { client in
            let created = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"doomed"}"#)
            #expect(created.status == 503, "\(created.body)")
            #expect(created.body.contains("the store refused"))
            #expect(gated.createCalls == 1)
            let listed = try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces", token: admin)
            #expect(listed.body.contains(#""state":"failed""#), "\(listed.body)")
            // The sandbox booted alongside the volume, and was stopped when the volume failed.
            #expect(!runtime.statuses.isEmpty)
            #expect(!runtime.statuses.values.contains(.running), "\(runtime.statuses)")
        }
        await service.manager.detachAll()
    }

    @Test func aClaimAnswersBeforeItsVolumeAndASyncWaitsForIt() async throws {
        let (service, gated, _, admin, data) = try await Self.server(warmPool: 1)
        let (store, _) = try DurableWorkspaceTests.keys(data)
        await service.manager.fillPool()
        #expect(gated.createCalls == 0, "a pooled sandbox has no tenant, so no volume")
        try await service.application().test(.router) { client in
            let id = try await Self.claim(client, admin: admin)
            #expect(try await store.head("keys/workspaces/\(id)") == nil, "the claim answered before its volume was made")
            // An exec needs no volume.
            let exec = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/exec", token: admin,
                                                                 json: #"{"argv":["/bin/true"]}"#)
            #expect(exec.status == 200, "\(exec.body)")

            // The pool's service makes the volume; hold it part way, and ask for a sync meanwhile:
            // it waits the claim out instead of failing as busy.
            gated.hold()
            async let finished: Void = service.manager.finishClaims()
            #expect(try await eventually { gated.createCalls == 1 })
            #expect(await service.manager.busyState(of: id).operation == "claiming")
            async let synced = ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/sync", token: admin)
            // The sync is parked on the claim (had it failed as busy, it would not be waiting).
            var waiting = false
            for _ in 0..<1000 where !waiting {
                waiting = await service.manager.busyState(of: id).waiting == 1
                if !waiting { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(waiting)
            gated.release()
            await finished
            let sync = try await synced
            #expect(sync.status == 200, "\(sync.body)")
            #expect(try await store.head("keys/workspaces/\(id)") != nil)

            #expect(try await ProcessRuntimeRouterTests.call(client, .delete, "/v1/workspaces/\(id)", token: admin).status == 204)
            #expect(try await store.head("keys/workspaces/\(id)") == nil)
            #expect(try await store.list(prefix: "volumes/workspace.\(id)/").isEmpty)
        }
        await service.manager.detachAll()
    }

    /// A shutdown before the claim's volume is made leaves the workspace running, not failed, and
    /// releases whatever waits on it; the next server makes the volume when it re-adopts it.
    @Test func claimsLeftAtShutdownAreReleasedNotFailed() async throws {
        let (service, gated, runtime, admin, _) = try await Self.server(warmPool: 1)
        await service.manager.fillPool()
        try await service.application().test(.router) { client in
            let id = try await Self.claim(client, admin: admin)
            await service.manager.abandonClaims()
            #expect(await service.manager.busyState(of: id).operation == nil)
            await service.manager.finishClaims()
            #expect(gated.createCalls == 0, "an abandoned claim is not made by this server")
            #expect(runtime.statuses[id] == .running)
            let shown = try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(id)", token: admin)
            #expect(try ProcessRuntimeRouterTests.workspace(shown.body).state == "running")
            // Its first commit makes the volume it lacks.
            let sync = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/sync", token: admin)
            #expect(sync.status == 200, "\(sync.body)")
        }
        await service.manager.detachAll()
    }

    @Test func aClaimWhoseVolumeFailsIsFailedAndItsSandboxStopped() async throws {
        let (service, gated, runtime, admin, _) = try await Self.server(warmPool: 1)
        await service.manager.fillPool()
        try await service.application().test(.router) { client in
            let id = try await Self.claim(client, admin: admin)
            gated.fail(true)
            await service.manager.finishClaims()
            let shown = try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(id)", token: admin)
            #expect(try ProcessRuntimeRouterTests.workspace(shown.body).state == "failed", "\(shown.body)")
            #expect(shown.body.contains("the store refused"))
            #expect(runtime.statuses[id] != .running)
            // The claim's marker is gone: a delete goes ahead rather than waiting for ever.
            #expect(await service.manager.busyState(of: id).operation == nil)
            gated.fail(false)
            #expect(try await ProcessRuntimeRouterTests.call(client, .delete, "/v1/workspaces/\(id)", token: admin).status == 204)
        }
        await service.manager.detachAll()
    }
}
