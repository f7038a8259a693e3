/// Previews served from origins of their own, one per workspace and port.
struct PreviewOrigin: Sendable {
    /// The cookie that carries a preview's grant on its own origin (host-only).
    static let grantCookie = "hearth_preview"
}
