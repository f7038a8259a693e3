import Foundation
import HearthControlPlane
import HearthCore
import HearthImages
import HearthServerTestKit
import Logging
import Prometheus
import HearthTestKit
import Testing

/// The warm pool's size and its misses, on a manager whose only (and so default) runtime is
/// the test kit's `ProcessRuntime`, with a stand-in base image.
@Suite(.timeLimit(.minutes(3))) struct WarmPoolMetricsTests {
    @Test func poolSizeHitsAndMissesAreCounted() async throws {
        let data = NSTemporaryDirectory() + "hearth-pool-metrics-\(UUID().uuidString.prefix(8))"
        ScratchDirectories.removeAtExit(data)
        try FileManager.default.createDirectory(atPath: data + "/workspaces", withIntermediateDirectories: true)
        var logger = Logger(label: "hearth.test")
        logger.logLevel = .critical
        let fake = ProcessRuntime()
        let registry = await ProcessHost.registry(fake)
        try ProcessHost.seedBaseImage(dataDirectory: data)
        let prometheus = PrometheusCollectorRegistry()
        let manager = WorkspaceManager(
            store: try WorkspaceStore(path: data + "/hearth.sqlite"), registry: registry,
            images: ImageStore(root: data + "/images", logger: logger),
            configuration: .init(dataDirectory: data, warmPoolSize: 1), logger: logger,
            metrics: WorkspaceMetrics(factory: PrometheusMetricsFactory(registry: prometheus)))

        await manager.fillPool()
        try await manager.refreshMetrics()
        var metrics = try Self.read(prometheus)
        #expect(metrics.sum("hearth_warm_pool_size", where: ["runtime": "process"]) == 1)

        _ = try await manager.perform(.create(CreateWorkspace()))  // Claims the pooled sandbox.
        _ = try await manager.perform(.create(CreateWorkspace()))  // The pool has not refilled: a miss.
        await manager.refreshMetrics()
        metrics = try Self.read(prometheus)
        #expect(metrics.sum("hearth_warm_pool_claims_total", where: ["runtime": "process", "result": "hit"]) == 1)
        #expect(metrics.sum("hearth_warm_pool_claims_total", where: ["runtime": "process", "result": "miss"]) == 1)
        #expect(metrics.sum("hearth_warm_pool_size", where: ["runtime": "process"]) == 0)
        #expect(metrics.sum("hearth_workspaces", where: ["state": "running"]) == 2)
        #expect(metrics.sum("hearth_workspace_operation_seconds_count", where: ["operation": "create", "runtime": "process"]) == 2)
        await manager.detachAll()
    }

    static func read(_ registry: PrometheusCollectorRegistry) throws -> PrometheusText {
        var buffer = [UInt8]()
        registry.emit(into: &buffer)
        return try PrometheusText(String(decoding: buffer, as: UTF8.self))
    }
}
