import HearthControlPlane
import HearthCore
import Hummingbird
import NIOCore
import Prometheus

/// The server's Prometheus registry and its `/metrics` route.
///
/// Every metric is made through one `PrometheusMetricsFactory` over the server's own registry and
/// handed to the parts that record (HTTP middleware, control plane): nothing goes through the
/// process-wide `MetricsSystem`, which nobody bootstrapped and so dropped every sample (`/metrics`
/// answered an empty body), and two servers in one process keep apart.
///
/// `/metrics` needs the operator's credential (the default tenant's admin): it counts every
/// tenant's workspaces and requests, which no other tenant's admin may see. Prometheus sends the
/// operator's API token as a bearer token (`authorization: {credentials_file: …}`).
enum HearthMetrics {
    static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Lifecycle operations take from milliseconds (a pooled create) to minutes (a first create
        // that builds the image); requests up to an hour (a streamed exec, a download).
        factory.durationHistogramBuckets[WorkspaceMetrics.operationSeconds] =
            [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300].map { Duration.milliseconds(Int64($0 * 1000)) }
        factory.durationHistogramBuckets[HTTPMetrics.durationLabel] =
            [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300, 3600].map { Duration.milliseconds(Int64($0 * 1000)) }
        return factory
    }

    static func registerRoute(on router: Router<HearthContext>, registry: PrometheusCollectorRegistry, manager: WorkspaceManager) {
        router.get("/metrics") { _, context in
            guard try context.caller().isOperator else {
                throw HearthError(.forbidden, "only the server's operator can read its metrics")
            }
            await manager.refreshMetrics()
            var buffer = [UInt8]()
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}
