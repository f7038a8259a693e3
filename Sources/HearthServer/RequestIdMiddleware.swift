import HearthCore
import Hummingbird
import Logging
import HearthControlPlane

/// Gives every request an id: in its log metadata (`request.id`), the `X-Request-Id` response
/// header and every error body (`request_id`).
///
/// An inbound `X-Request-Id` is kept only from a trusted proxy (`--trusted-proxy`), and only if it
/// is sane (`RequestId.isSane`): anyone else could choose the id their requests are logged under,
/// or stuff the log with a long or control-laden value. Otherwise the server makes one.
///
/// It is the outermost middleware, so it also renders every error into its response: the error
/// body then names the same id the log does.
struct RequestIdMiddleware: RouterMiddleware {
    typealias Context = HearthContext
    let proxies: TrustedProxies

    func handle(_ request: Request, context: HearthContext, next: (Request, HearthContext) async throws -> Response) async throws -> Response {
        var context = context
        let peer = context.remoteAddress?.ipAddress ?? ""
        let id = RequestId.choose(inbound: request.headers[.xRequestId], peerIsTrusted: proxies.isTrusted(peer))
        context.requestId = id
        context.logger[metadataKey: "request.id"] = .string(id)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = HearthError.from(error).response(requestId: id, logger: context.logger)
        }
        response.headers[.xRequestId] = id
        return response
    }
}

enum RequestId {
    /// Longest inbound id kept; longer ones are replaced, never truncated (a truncated id matches nothing upstream).
    static let maxLength = 128

    /// 1–128 characters of letters, digits and `-_.:=`: what proxies (UUIDs, Envoy, AWS ALB's
    /// `Root=1-…`) send, and nothing a log line or a header could be split on.
    static func isSane(_ value: Substring) -> Bool {
        guard !value.isEmpty, value.utf8.count <= maxLength else { return false }
        return value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "="): true
            default: false
            }
        }
    }

    static func choose(inbound: String?, peerIsTrusted: Bool) -> String {
        if peerIsTrusted, let inbound, isSane(inbound[...]) { return inbound }
        return generate()
    }

    /// 128 random bits in lowercase hex, prefixed so the id says what it is.
    static func generate() -> String {
        var random = SystemRandomNumberGenerator()
        let high = random.next() as UInt64, low = random.next() as UInt64
        return "req_" + hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
