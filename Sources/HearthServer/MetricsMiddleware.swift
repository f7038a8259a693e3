import HearthCore
import Hummingbird
import Metrics
import Synchronization

/// Request counts and latencies by route, method and status.
///
/// Every label is from a bounded set, because a client controls the path and the method and a
/// label per distinct value would grow the registry without end: the route is the *pattern* the
/// router matched (`/v1/workspaces/{ws}/exec`, `unmatched` for none), the method one of the
/// standard ones or `other`, the status a code Hearth itself answers or, for any other (a previewed
/// app's own), its class (`5xx`).
///
/// A request is timed to the end of its body, not to its head, so a streamed exec or a download
/// records how long it really took. A thrown error is counted with the status its response gets
/// (a 404 is a 404, not a 500).
final class HTTPMetrics: Sendable {
    struct Key: Hashable {
        var route: String
        var method: String
        var status: String
    }

    struct Series: Sendable {
        let requests: Counter
        let duration: Timer
    }

    static let requestsLabel = "hearth_http_requests_total"
    static let durationLabel = "hearth_http_request_duration_seconds"
    static let standardMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    let factory: any MetricsFactory
    private let series = Mutex<[Key: Series]>([:])

    init(factory: any MetricsFactory) { self.factory = factory }

    func record(route: String?, method: HTTPRequest.Method, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let key = Key(route: Self.routeLabel(route), method: Self.methodLabel(method), status: Self.statusLabel(status.code))
        let metrics = series.withLock { cache in
            if let known = cache[key] { return known }
            let dimensions = [("route", key.route), ("method", key.method), ("status", key.status)]
            let made = Series(requests: Counter(label: Self.requestsLabel, dimensions: dimensions, factory: factory),
                              duration: Timer(label: Self.durationLabel, dimensions: dimensions, factory: factory))
            cache[key] = made
            return made
        }
        metrics.requests.increment()
        metrics.duration.record(duration: ContinuousClock.now - start)
    }

    static func routeLabel(_ endpoint: String?) -> String {
        guard let endpoint, endpoint != "NotFound" else { return "unmatched" }
        return endpoint
    }

    /// The statuses Hearth itself answers keep their code; any other (a previewed guest app chooses
    /// its own, 100 to 599) is counted by class, so a guest cannot mint hundreds of series.
    static let ownStatuses: Set<Int> = [101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405,
                                        408, 409, 411, 413, 415, 416, 422, 429, 431, 500, 501, 502, 503, 504]

    static func statusLabel(_ code: Int) -> String {
        if ownStatuses.contains(code) { return String(code) }
        guard (100...599).contains(code) else { return "other" }
        return "\(code / 100)xx"
    }

    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        standardMethods.contains(method.rawValue) ? method.rawValue : "other"
    }
}

struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HTTPMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let metrics = self.metrics
        let method = request.method
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            metrics.record(route: context.endpointPath, method: method, status: status, since: start)
            throw error
        }
        // The route is known once the router matched it; it is read at the end, like the status.
        let endpoint = context.coreContext.endpointPath
        let status = response.status
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
            } catch {
                metrics.record(route: endpoint.value, method: method, status: status, since: start)
                throw error
            }
            metrics.record(route: endpoint.value, method: method, status: status, since: start)
        }
        return response
    }
}
