import Foundation
import HearthAPI
import HearthControlPlane
public import HearthCore
public import Hummingbird
import Logging

/// Renders every Hearth error as `{"error": {"code", "message"}}`. `detail` stays in the log.
extension HearthError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch code {
        case .invalidArgument: .badRequest
        case .notFound: .notFound
        case .conflict: .conflict
        case .unauthorized: .unauthorized
        case .forbidden, .quotaExceeded: .forbidden
        case .runtimeUnavailable, .storeUnavailable: .serviceUnavailable
        case .agentUnavailable, .agentProtocol: .badGateway
        case .noSpace: .init(code: 507, reasonPhrase: "Insufficient Storage")
        case .timeout: .gatewayTimeout
        case .payloadTooLarge: .contentTooLarge
        case .rateLimited, .tooManyRunningTurns: .tooManyRequests
        default: .internalServerError
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(requestId: (context as? HearthContext)?.requestId, logger: context.logger)
    }

    /// The error as the client sees it, naming the request so a report can be found in the log.
    func response(requestId: String?, logger: Logger) -> Response {
        if status == .internalServerError || detail != nil {
            logger.warning("request failed", metadata: ["error.code": "\(code.rawValue)", "error.detail": "\(detail ?? message)"])
        } else {
            logger.info("request refused", metadata: ["error.code": "\(code.rawValue)", "http.status": "\(status.code)"])
        }
        let body = (try? API.encoder().encode(API.ErrorBody(code: code.rawValue, message: message, requestId: requestId))) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        // A rate limit says when to come back; its detail carries the seconds (`retry-after=N`).
        if code == .rateLimited || code == .tooManyRunningTurns, let detail, detail.hasPrefix("retry-after="), let seconds = Int(detail.dropFirst("retry-after=".count)) {
            headers[.retryAfter] = String(seconds)
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Maps errors that are not yet `HearthError`s (agent refusals, decoding failures) on the way out.
struct ErrorMappingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let code: HearthError.Code = switch error.status {
            case .notFound: .notFound
            case .unauthorized: .unauthorized
            case .contentTooLarge: .payloadTooLarge
            default: .invalidArgument
            }
            throw HearthError(code, error.body ?? "\(error.status.reasonPhrase.lowercased())")
        } catch is DecodingError {
            throw HearthError(.invalidArgument, "the request body is not valid JSON for this endpoint")
        } catch {
            throw HearthError.from(error)
        }
    }
}
