import HearthCore
import Hummingbird

/// Bearer-token authentication. Only health and the API description are public.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: AdminToken
    static var publicPaths: Set<String> { ["/v1/health", "/v1/openapi.json"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.publicPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              token.matches(String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces))
        else {
            throw HearthError(.unauthorized, "a valid bearer token is required")
        }
        return try await next(request, context)
    }
}
