public import AsyncHTTPClient
public import HearthAgentCore
public import Logging
import NIOCore
import NIOHTTP1
import Foundation

/// The HTTP side every provider shares: one request with retries before the first byte, an error
/// body read with a bound, and the streamed body handed on.
struct ProviderHTTP: Sendable {
    /// How much of a failed response's body is read for its message.
    static let maxErrorBodyBytes = 64 << 10
    /// How much of a model-list response is read.
    static let maxListBodyBytes = 8 << 20

    let client: HTTPClient
    let endpoint: ProviderEndpoint
    let clock: any ProviderClock
    let logger: Logger
    let provider: String

    /// Sends `body` to `path`; returns the response once its head says 2xx. Retries connection failures
    /// and retryable statuses, waiting `Retry-After` when given, only while no body byte was taken.
    func send(method: HTTPMethod, path: String, headers: [(String, String)], body: [UInt8]?) async throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            var request = HTTPClientRequest(url: endpoint.baseURL + path)
            request.method = method
            for (name, value) in endpoint.extraHeaders where !Self.isReserved(name) { request.headers.replaceOrAdd(name: name, value: value) }
            for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
            if let body {
                request.headers.replaceOrAdd(name: "content-type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, deadline: .now() + .nanoseconds(Int64(endpoint.requestTimeout.components.seconds) * 1_000_000_000))
            } catch {
                if Task.isCancelled { throw CancellationError() }
                let failure = ProviderFailure(.transport, "could not reach the provider", retryable: true)
                logger.warning("provider.request.failed", metadata: ["provider.kind": "\(provider)", "provider.attempt": "\(attempt)", "error": "\(endpoint.redacting(String(describing: error)))"])
                guard attempt < endpoint.retry.maxAttempts else { throw failure }
                try await clock.sleep(for: endpoint.retry.backoff(afterAttempt: attempt))
                continue
            }
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return response }

            let text = endpoint.redacting(try await Self.readBounded(response.body, limit: Self.maxErrorBodyBytes))
            let message = Self.errorMessage(from: text, status: status)
            let retryable = RetryPolicy.isRetryable(status: status)
            logger.warning("provider.request.refused", metadata: ["provider.kind": "\(provider)", "provider.status": "\(status)", "provider.attempt": "\(attempt)", "provider.message": "\(message)"])
            let failure = ProviderFailure(.http, message, httpStatus: status, retryable: retryable)
            guard retryable, attempt < endpoint.retry.maxAttempts else { throw failure }
            let asked = RetryAfter.delay(retryAfter: response.headers.first(name: "retry-after"),
                                         retryAfterMilliseconds: response.headers.first(name: "retry-after-ms"), now: clock.now())
            let delay = asked ?? endpoint.retry.backoff(afterAttempt: attempt)
            guard delay <= endpoint.retry.maxDelay else { throw failure }
            try await clock.sleep(for: delay)
        }
    }

    /// A whole (small) body, refusing to hold more than `limit` bytes.
    func readAll(_ response: HTTPClientResponse, limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        do {
            for try await var buffer in response.body {
                guard bytes.count &+ buffer.readableBytes <= limit else {
                    throw ProviderFailure(.malformed, "the provider's response is larger than \(limit) bytes")
                }
                bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        } catch let failure as ProviderFailure {
            throw failure
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw ProviderFailure(.transport, "the provider connection failed while reading", retryable: true)
        }
        return bytes
    }

    static func readBounded(_ body: HTTPClientResponse.Body, limit: Int) async throws -> String {
        var bytes: [UInt8] = []
        do {
            for try await var buffer in body {
                let take = min(buffer.readableBytes, limit - bytes.count)
                bytes += buffer.readBytes(length: take) ?? []
                if bytes.count >= limit { break }
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The provider's own message (`{"error":{"message":…}}`, both formats), or the start of the body.
    static func errorMessage(from body: String, status: Int) -> String {
        struct Envelope: Decodable {
            struct Inner: Decodable { var message: String? }
            var error: Inner?
            var message: String?
        }
        let decoded = try? JSONDecoder().decode(Envelope.self, from: Data(body.utf8))
        let message = decoded?.error?.message ?? decoded?.message ?? body
        let clipped = message.count > 512 ? String(message.prefix(512)) + "…" : message
        return clipped.isEmpty ? "the provider answered HTTP \(status)" : clipped
    }

    static func isReserved(_ header: String) -> Bool {
        ["authorization", "x-api-key", "content-type", "content-length", "host", "transfer-encoding"].contains(header.lowercased())
    }
}

/// Entry points of the providers target.
public enum Providers {
    /// A client fit for providers: no redirects (a redirect would carry the key to another host),
    /// a connect timeout and a read timeout between bytes. The caller owns it and shuts it down.
    public static func makeHTTPClient(readTimeout: Duration = .seconds(300)) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: .nanoseconds(Int64(readTimeout.components.seconds) * 1_000_000_000))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

}
