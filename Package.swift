// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]
/// Imports say exactly what a target uses and exports (SE-0409, SE-0444). On for every source target.
let strictImports: [SwiftSetting] = swiftSettings + [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "hearth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hearth", targets: ["HearthCLI"]),
        .executable(name: "hearth-guest", targets: ["HearthGuestMain"]),
        .executable(name: "hearth-jailer", targets: ["HearthJailerMain"]),
        .library(name: "HearthTestKit", targets: ["HearthTestKit"]),
        // Agent sessions (issue 18): the scrubber's offline tool (features for training, evaluation, benchmark).
        .executable(name: "hearth-scrub-tool", targets: ["HearthScrubTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
    ],
    targets: [
        // Domain types and the workspace state machine. No I/O.
        .target(name: "HearthCore", swiftSettings: strictImports),
        // JSON shapes of the public REST API, shared by server and client. No I/O.
        .target(name: "HearthAPI", dependencies: ["HearthCore"], swiftSettings: strictImports),
        // The versioned host/guest contract: frames, messages, flow-control rules. No I/O.
        .target(name: "HearthWire", swiftSettings: strictImports),
        // The guest agent's logic. Depends on the wire contract only, so it links statically and small.
        .target(name: "CHearthGuest"),
        // The host's connection-tracking table, over netlink (a conntrack flush by mark).
        .target(name: "CHearthNet"),
        .target(name: "HearthAgent", dependencies: ["HearthWire", "CHearthGuest"], swiftSettings: strictImports),
        .executableTarget(name: "HearthGuestMain", dependencies: ["HearthAgent"], swiftSettings: strictImports),
        // The runtime protocol every sandbox driver implements, and the host side of the agent channel.
        .target(
            name: "HearthRuntime",
            dependencies: [
                "HearthCore", "HearthWire", "CHearthGuest",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictImports
        ),
        // Base images: built once with mmdebstrap, imported from OCI layouts, cached content-addressed.
        .target(
            name: "HearthImages",
            dependencies: [
                "HearthCore", "HearthRuntime",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictImports
        ),
        // The gVisor (runsc) driver.
        .target(
            name: "HearthGVisor",
            dependencies: ["HearthCore", "HearthRuntime", "CHearthGuest", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictImports
        ),
        // Workspace networks: namespaces, veths, the nftables filter and Hearth's resolver.
        .target(
            name: "HearthNetwork",
            dependencies: ["HearthCore", "HearthRuntime", "CHearthNet",
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strictImports
        ),
        // The microVM jailer: a small privileged launcher, and what the QEMU driver tells it.
        .target(name: "CHearthJail"),
        .target(name: "HearthJail", swiftSettings: strictImports),
        .executableTarget(name: "HearthJailerMain", dependencies: ["HearthJail", "CHearthJail"], swiftSettings: strictImports),
        // The QEMU microvm driver: KVM where it really works, TCG otherwise.
        .target(
            name: "HearthQEMU",
            dependencies: ["HearthCore", "HearthWire", "HearthRuntime", "HearthJail", "CHearthGuest", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictImports
        ),
        // Durable volumes: files and SQLite committed as encrypted, content-addressed generations to an
        // object store, with one fenced writer. Depends on no sandbox code.
        .target(
            name: "HearthStore",
            dependencies: [.product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "CZstd",
                "CHearthGuest",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictImports
        ),
        // zstd (Debian's libzstd-dev) for pack blobs: three times deflate's speed at a better ratio.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", providers: [.apt(["libzstd-dev"])]),
        // The S3 object store: SigV4, conditional writes, retries. Kept apart so the engine has no HTTP client.
        .target(
            name: "HearthStoreS3",
            dependencies: [
                "HearthStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictImports
        ),
        // Workspace lifecycle: persisted state machine, warm pool, reconciliation. Executes typed actions.
        .target(
            name: "HearthControlPlane",
            dependencies: ["HearthWire", "HearthAgentCore",
                "HearthCore", "HearthRuntime", "HearthImages",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictImports
        ),
        // Tenants, users, API tokens, browser sessions and sign-in throttling. No HTTP.
        .target(
            name: "HearthIdentity",
            dependencies: [
                "HearthCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                // NIOThreadPool: bcrypt's own threads, off the cooperative pool.
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictImports
        ),
        // The tamper-evident audit log: a hash chain in SQLite with a head file. No HTTP.
        .target(
            name: "HearthAudit",
            dependencies: [
                "HearthCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictImports
        ),
        // Live sessions (terminals now; agent event streams, pairing rooms, LSP channels next): the
        // bounded replayable log with cursors and acknowledgement windows, and the hub that owns
        // sessions as a Service. No HTTP, no wire frames.
        .target(
            name: "HearthSessions",
            dependencies: [
                "HearthCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictImports
        ),
        // The REST API: parses, authorizes, hands one action to the control plane.
        .target(
            name: "HearthServer",
            dependencies: [.product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
                "HearthCore", "HearthAPI", "HearthControlPlane", "HearthImages",
                "HearthIdentity", "HearthAudit", "HearthSessions", "HearthNetwork",
                "HearthAgentCore", "HearthAgents", "HearthProviders", "HearthScrub",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Web")],
            swiftSettings: strictImports
        ),
        // The composition root: which sandbox drivers this host has, their options, and the probe.
        // The server is handed the probed registry and names no driver.
        .target(
            name: "HearthHost",
            dependencies: ["HearthControlPlane", "HearthRuntime", "HearthGVisor", "HearthQEMU", "HearthCore", "HearthStore", "HearthStoreS3",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictImports
        ),
        // HTTP client of the REST API, used by the CLI and the tests.
        .target(
            name: "HearthClient",
            dependencies: [.product(name: "NIOWebSocket", package: "swift-nio"), .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                "HearthAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictImports
        ),
        .executableTarget(
            name: "HearthCLI",
            dependencies: [
                "HearthServer", "HearthHost", "HearthClient", "HearthAPI", "HearthCore", "HearthControlPlane", "HearthRuntime", "HearthQEMU",
                "HearthImages", "HearthStore", "HearthStoreS3", "HearthNetwork",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictImports
        ),
        // Test kit: a runtime that runs the real agent in-process over a socketpair, with no isolation.
        .target(
            name: "HearthTestKit",
            dependencies: ["HearthRuntime", "HearthAgent", "HearthCore", "HearthWire", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictImports
        ),
        // Test kit: a real server on port 0 with a shared base image, for tests that need real sandboxes.
        .target(
            name: "HearthServerTestKit",
            dependencies: ["HearthTestKit", "HearthAPI", "HearthServer", "HearthHost", "HearthNetwork", "HearthControlPlane", "HearthRuntime", "HearthClient", "HearthImages", "HearthIdentity",
                           .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")],
            swiftSettings: strictImports
        ),
        // MARK: Agent sessions (issue 18)
        // Agent domain types: messages, provider requests and events, the provider and tool-runner
        // protocols, loop events and budgets. No I/O.
        .target(name: "HearthAgentCore", dependencies: ["HearthCore"], swiftSettings: strictImports),
        .testTarget(name: "HearthAgentCoreTests", dependencies: ["HearthAgentCore"]),
        // Chat providers over their real wire formats (OpenAI Chat Completions, Anthropic Messages):
        // bounded SSE parsing, retries before the first byte, model lists.
        .target(
            name: "HearthProviders",
            dependencies: [
                "HearthAgentCore", "HearthCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictImports
        ),
        // The agent loop: provider calls and tool runs with the guards, and the scrubber on all egress.
        .target(
            name: "HearthAgents",
            dependencies: ["HearthAgentCore", "HearthScrub", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictImports
        ),
        .testTarget(
            name: "HearthAgentsTests",
            dependencies: ["HearthAgents", "HearthAgentCore", "HearthProviders", "HearthScrub", "HearthLLMTestKit",
                           .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        // Test kit: the real offline LLM (llama-server + SmolLM2 from the setup-llama.sh cache) on a free port.
        .target(
            name: "HearthLLMTestKit",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictImports
        ),
        .testTarget(
            name: "HearthProvidersTests",
            dependencies: ["HearthProviders", "HearthAgentCore", "HearthLLMTestKit",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The secret scrubber: rule pack, classifier, tenant rules. No I/O.
        .target(name: "HearthScrub", dependencies: ["HearthCore"], swiftSettings: strictImports),
        .executableTarget(name: "HearthScrubTool", dependencies: ["HearthScrub"], swiftSettings: strictImports),
        .testTarget(name: "HearthScrubTests", dependencies: ["HearthScrub", "HearthCore"], exclude: ["Fixtures"]),
        // MARK: End of agent sessions
        .testTarget(name: "HearthCoreTests", dependencies: ["HearthCore"]),
        .testTarget(name: "HearthWireTests", dependencies: ["HearthWire"]),
        .testTarget(name: "HearthAgentTests", dependencies: ["CHearthGuest", "HearthCore", "HearthWire", "HearthAgent", "HearthRuntime", "HearthTestKit", "HearthControlPlane"]),
        .testTarget(
            name: "HearthServerTests",
            dependencies: [.product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "HTTPTypes", package: "swift-http-types"), "HearthAPI", "HearthAudit", "HearthRuntime", "HearthWire", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"), "HearthServer", "HearthClient", "HearthTestKit", "HearthControlPlane", "HearthServerTestKit", "HearthIdentity", "HearthCore",
                           "HearthSessions", "HearthAgentCore", "HearthHost", "HearthStore",
                           .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Prometheus", package: "swift-prometheus")]
        ),
        .testTarget(name: "HearthJailTests", dependencies: ["HearthJail"]),
        .testTarget(name: "HearthSessionsTests", dependencies: ["HearthSessions", "HearthCore"]),
        .testTarget(name: "HearthIdentityTests", dependencies: ["HearthIdentity", "HearthAudit", "HearthCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "HearthStoreTests",
            dependencies: [
                "HearthStore", "HearthStoreS3", "CHearthGuest",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "CompressNIO", package: "compress-nio"),
                // The fault proxy between the S3 client and SeaweedFS.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "HearthQEMUTests",
            dependencies: ["CHearthGuest", "HearthCore", "HearthRuntime", .product(name: "NIOCore", package: "swift-nio"), "HearthQEMU", "HearthJail", "HearthServerTestKit", "HearthClient", "HearthAPI"],
            exclude: ["Golden"]
        ),
        // The hostile-tenant suite: attacks by a member and a viewer of a second tenant on a live server.
        .testTarget(
            name: "HearthHostileTests",
            dependencies: [.product(name: "Logging", package: "swift-log"), "HearthServer", "HearthClient", "HearthAPI", "HearthServerTestKit", "HearthControlPlane", "HearthImages", "HearthSessions", "HearthGVisor", "HearthRuntime", "HearthHost",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(
            name: "HearthNetworkTests",
            dependencies: ["HearthRuntime", "HearthNetwork", "HearthCore", "HearthAPI", "HearthClient", "HearthServerTestKit", "HearthServer", "HearthHost", "HearthAudit",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "HearthGVisorTests",
            dependencies: ["HearthAPI", "HearthCore", "HearthWire", .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"), "HearthGVisor", "HearthImages", "HearthRuntime", "HearthControlPlane", "HearthServer", "HearthClient", "HearthServerTestKit", "HearthAgentCore", "HearthLLMTestKit", "HearthHost", "HearthStore",
                           .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client")],
            exclude: ["Golden"]
        ),
    ]
)
