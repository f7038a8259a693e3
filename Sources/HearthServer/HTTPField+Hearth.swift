import HTTPTypes

extension HTTPField.Name {
    /// A browser session's state-changing requests echo its CSRF token here.
    static let csrfToken = Self("X-CSRF-Token")!
    static let secFetchDest = Self("Sec-Fetch-Dest")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    /// Names the client, but only when a trusted proxy sent it (`TrustedProxies`).
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xRequestId = Self("X-Request-Id")!
}
