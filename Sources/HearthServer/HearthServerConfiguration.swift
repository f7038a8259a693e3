import Foundation
public import HearthControlPlane
public import HearthCore
public import HearthIdentity

public struct HearthServerConfiguration: Sendable {
    public var dataDirectory: String
    public var host: String
    /// 0 picks a free port (tests).
    public var port: Int
    public var warmPoolSize: Int
    public var defaultLimits: ResourceLimits
    /// The URL browsers use, when a TLS proxy fronts the server (`https://…`): it makes the session
    /// cookie `__Host-` and Secure, and is the only origin WebSockets may come from.
    public var publicURL: String?
    /// `--preview-domain`: previews answer at `{id}-{port}.DOMAIN` (a wildcard DNS name, and behind
    /// TLS a wildcard certificate, that reach this server), each an origin of its own; nil serves
    /// them under `/w/{ws}/p/{port}/` on Hearth's origin, sandboxed.
    public var previewDomain: String?
    public var identityPolicy: IdentityStore.Policy = IdentityStore.Policy()
    /// The only place OCI layouts are imported from (`image: "oci:NAME"`, the operator only); nil
    /// turns imports off. Tenants never name a host path.
    public var imageImportDirectory: String?
    /// The quota of every tenant but the operator's until the operator sets one (`PUT /v1/tenants/{t}/quota`).
    public var defaultQuota: TenantQuota = .standard
    /// The web IDE's files when they are not beside the executable (the CLI passes
    /// `$HEARTH_WEB_DIR`); nil finds SwiftPM's resource bundle.
    public var webDirectory: String?
    /// Build the base image in the background at start-up when it is missing (`hearth serve`), so a
    /// first create waits only for what remains. Off for test servers, which share a prepared one.
    public var prepareBaseImage = false
    /// Timeouts, connection caps, rate limits and trusted proxies.
    public var limits = ServerLimits()
    /// Agent sessions (issue 18): driver, clock, load probe, admission threshold.
    public var agents = AgentSessionOptions()
    /// Each workspace's key and volume in the durable store (issue 16), made by the composition root
    /// (`HearthHost.DurableStore`, from `--store` and `--kek-file`); this target never sees the
    /// store or the KEK. Nil keeps no volumes (most test servers).
    public var workspaceVolumes: (any WorkspaceVolumes)?
    /// How often each running workspace's state is committed to the store (with `workspaceVolumes`);
    /// nil commits only on pause, stop and sync.
    public var commitInterval: Duration? = .seconds(60)
    /// How often the commit service looks for workspaces that are due (each has its own interval).
    public var commitTick: Duration = .seconds(5)

    /// The runtimes come separately (`HearthService.make(_:runtimes:…)`): the composition root
    /// (`HearthHost`, or a test kit) chooses and probes them.
    public init(dataDirectory: String, host: String = "127.0.0.1", port: Int = 7070,
                warmPoolSize: Int = 0, defaultLimits: ResourceLimits = ResourceLimits()) {
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.warmPoolSize = warmPoolSize
        self.defaultLimits = defaultLimits
    }

    /// `hearthData` (the CLI passes `$HEARTH_DATA`), else `/var/lib/hearth` for root and
    /// `~/.local/share/hearth` otherwise. The library reads no environment itself.
    public static func defaultDataDirectory(hearthData: String?) -> String {
        if let hearthData, !hearthData.isEmpty { return hearthData }
        if getuid() == 0 { return "/var/lib/hearth" }
        return NSHomeDirectory() + "/.local/share/hearth"
    }
}
