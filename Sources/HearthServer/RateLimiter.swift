import Foundation
import HearthCore
import Hummingbird
import HearthIdentity
import Logging
import Synchronization

/// Token buckets by key (an address, a credential). Memory is bounded: past `capacity` keys,
/// full buckets (which carry no state) are dropped, and if that is not enough, all are.
final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var at: ContinuousClock.Instant
        /// Whether the last request was refused, so a refusal is logged once per burst, not per request.
        var refusing: Bool
    }

    let rule: RateRule
    let capacity: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    init(_ rule: RateRule, capacity: Int = 65_536) {
        self.rule = rule
        self.capacity = capacity
    }

    enum Verdict: Equatable {
        case allowed
        /// Refused; retry after this many seconds. `first` is true for the first refusal of a run.
        case refused(retryAfter: Int, first: Bool)
    }

    func take(_ key: String, now: ContinuousClock.Instant = .now) -> Verdict {
        let rule = self.rule
        guard rule.burst > 0, rule.perSecond > 0 else { return .allowed }
        return buckets.withLock { all in
            var bucket = all[key] ?? Bucket(tokens: rule.burst, at: now, refusing: false)
            let elapsed = now - bucket.at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(rule.burst, bucket.tokens + max(0, seconds) * rule.perSecond)
            bucket.at = now
            let verdict: Verdict
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                bucket.refusing = false
                verdict = .allowed
            } else {
                let wait = (1 - bucket.tokens) / rule.perSecond
                verdict = .refused(retryAfter: Int(exactly: max(1, min(wait, 3600)).rounded(.up)) ?? 1, first: !bucket.refusing)
                bucket.refusing = true
            }
            if all[key] == nil, all.count >= capacity {
                all = all.filter { _, b in b.tokens + max(0, Double((now - b.at).components.seconds)) * rule.perSecond < rule.burst }
                if all.count >= capacity { all.removeAll(keepingCapacity: true) }
            }
            all[key] = bucket
            return verdict
        }
    }
}

/// Refuses requests past their rate with 429 and `Retry-After`: before authentication by client
/// address (and sign-ins by address), after it by credential.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = HearthContext
    enum Stage: Sendable { case address, credential }
    let stage: Stage
    let limiters: RateLimiters
    let logger: Logger

    func handle(_ request: Request, context: HearthContext, next: (Request, HearthContext) async throws -> Response) async throws -> Response {
        switch stage {
        case .address:
            let address = context.sourceIP
            try check(limiters.perAddress.take(address), what: "address", key: address)
            if request.method == .post, request.uri.path == "/v1/session" {
                try check(limiters.signIns.take(address), what: "sign-in", key: address)
            }
        case .credential:
            if let principal = context.principal {
                let key: String = switch principal.credential {
                case .token(let id): id
                case .session(let id, _): id
                }
                try check(limiters.perCredential.take(key), what: "credential", key: key)
            }
        }
        return try await next(request, context)
    }

    func check(_ verdict: RateLimiter.Verdict, what: String, key: String) throws {
        guard case .refused(let seconds, let first) = verdict else { return }
        if first {
            logger.notice("rate limit reached", metadata: ["rate.scope": "\(what)", "rate.key": "\(key)", "rate.retry_after": "\(seconds)"])
        }
        throw HearthError(.rateLimited, "too many requests; try again in \(seconds) s", detail: "retry-after=\(seconds)")
    }
}

/// The server's rate limiters, shared by its HTTP and WebSocket routers.
struct RateLimiters: Sendable {
    let perAddress: RateLimiter
    let perCredential: RateLimiter
    let signIns: RateLimiter

    init(_ limits: ServerLimits) {
        perAddress = RateLimiter(limits.perAddress)
        perCredential = RateLimiter(limits.perCredential)
        signIns = RateLimiter(limits.signInsPerAddress)
    }
}
