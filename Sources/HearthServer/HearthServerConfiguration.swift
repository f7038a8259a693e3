import Foundation
import HearthCore
import HearthIdentity
import HearthQEMU

public struct HearthServerConfiguration: Sendable {
    public var dataDirectory: String
    public var host: String
    /// 0 picks a free port (tests).
    public var port: Int
    public var warmPoolSize: Int
    public var gvisorPlatform: String
    public var qemuAcceleration: QEMUConfiguration.Acceleration
    public var qemuMemory: QEMUConfiguration.MemoryBackend
    /// How long a microVM may take to boot and greet the host; nil keeps the per-mode defaults.
    public var qemuBootTimeout: Duration?
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
    /// Timeouts, connection caps, rate limits and trusted proxies.
    public var limits = ServerLimits()
    /// Extra runtimes (the test kit's) added to the probed ones.
    public var extraRuntimes: [any SandboxRuntimeBox]

    public init(dataDirectory: String = HearthServerConfiguration.defaultDataDirectory, host: String = "127.0.0.1", port: Int = 7070,
                warmPoolSize: Int = 0, gvisorPlatform: String = "ptrace",
                qemuAcceleration: QEMUConfiguration.Acceleration = .auto,
                qemuMemory: QEMUConfiguration.MemoryBackend = .sharedFile, qemuBootTimeout: Duration? = nil, defaultLimits: ResourceLimits = ResourceLimits(),
                extraRuntimes: [any SandboxRuntimeBox] = []) {
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.warmPoolSize = warmPoolSize
        self.gvisorPlatform = gvisorPlatform
        self.qemuAcceleration = qemuAcceleration
        self.qemuMemory = qemuMemory
        self.qemuBootTimeout = qemuBootTimeout
        self.defaultLimits = defaultLimits
        self.extraRuntimes = extraRuntimes
    }

    /// `HEARTH_DATA`, else `/var/lib/hearth` for root and `~/.local/share/hearth` otherwise.
    public static var defaultDataDirectory: String {
        if let data = ProcessInfo.processInfo.environment["HEARTH_DATA"], !data.isEmpty { return data }
        if getuid() == 0 { return "/var/lib/hearth" }
        return NSHomeDirectory() + "/.local/share/hearth"
    }
}

import HearthRuntime

/// Lets a configuration carry runtimes without making the configuration generic.
public protocol SandboxRuntimeBox: Sendable {
    var runtime: any SandboxRuntime { get }
}
