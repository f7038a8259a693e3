// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "hearth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hearth", targets: ["HearthCLI"]),
        .executable(name: "hearth-guest", targets: ["HearthGuestMain"]),
        .executable(name: "hearth-jailer", targets: ["HearthJailerMain"]),
        .library(name: "HearthTestKit", targets: ["HearthTestKit"]),
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
        .target(name: "HearthCore", swiftSettings: swiftSettings),
        // JSON shapes of the public REST API, shared by server and client. No I/O.
        .target(name: "HearthAPI", dependencies: ["HearthCore"], swiftSettings: swiftSettings),
        // The versioned host/guest contract: frames, messages, flow-control rules. No I/O.
        .target(name: "HearthWire", swiftSettings: swiftSettings),
        // The guest agent's logic. Depends on the wire contract only, so it links statically and small.
        .target(name: "CHearthGuest"),
        .target(name: "HearthAgent", dependencies: ["HearthWire", "CHearthGuest"], swiftSettings: swiftSettings),
        .executableTarget(name: "HearthGuestMain", dependencies: ["HearthAgent"], swiftSettings: swiftSettings),
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
            swiftSettings: swiftSettings
        ),
        // Base images: built once with mmdebstrap, imported from OCI layouts, cached content-addressed.
        .target(
            name: "HearthImages",
            dependencies: [
                "HearthCore", "HearthRuntime",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The gVisor (runsc) driver.
        .target(
            name: "HearthGVisor",
            dependencies: ["HearthCore", "HearthRuntime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The microVM jailer: a small privileged launcher, and what the QEMU driver tells it.
        .target(name: "CHearthJail"),
        .target(name: "HearthJail", swiftSettings: swiftSettings),
        .executableTarget(name: "HearthJailerMain", dependencies: ["HearthJail", "CHearthJail"], swiftSettings: swiftSettings),
        // The QEMU microvm driver: KVM where it really works, TCG otherwise.
        .target(
            name: "HearthQEMU",
            dependencies: ["HearthCore", "HearthWire", "HearthRuntime", "HearthJail", "CHearthGuest", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Durable volumes: files and SQLite committed as encrypted, content-addressed generations to an
        // object store, with one fenced writer. Depends on no sandbox code.
        .target(
            name: "HearthStore",
            dependencies: [
                "CZstd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
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
            swiftSettings: swiftSettings
        ),
        // Workspace lifecycle: persisted state machine, warm pool, reconciliation. Executes typed actions.
        .target(
            name: "HearthControlPlane",
            dependencies: [
                "HearthCore", "HearthWire", "HearthRuntime", "HearthImages",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
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
            swiftSettings: swiftSettings
        ),
        // The tamper-evident audit log: a hash chain in SQLite with a head file. No HTTP.
        .target(
            name: "HearthAudit",
            dependencies: [
                "HearthCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The REST API: parses, authorizes, hands one action to the control plane.
        .target(
            name: "HearthServer",
            dependencies: [
                "HearthCore", "HearthAPI", "HearthControlPlane", "HearthRuntime", "HearthGVisor", "HearthQEMU", "HearthImages",
                "HearthIdentity", "HearthAudit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Web")],
            swiftSettings: swiftSettings
        ),
        // HTTP client of the REST API, used by the CLI and the tests.
        .target(
            name: "HearthClient",
            dependencies: [
                "HearthAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "HearthCLI",
            dependencies: [
                "HearthServer", "HearthClient", "HearthAPI", "HearthGVisor", "HearthQEMU", "HearthImages", "HearthStore", "HearthStoreS3",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test kit: a runtime that runs the real agent in-process over a socketpair, with no isolation.
        .target(
            name: "HearthTestKit",
            dependencies: ["HearthRuntime", "HearthAgent", "HearthCore"],
            swiftSettings: swiftSettings
        ),
        // Test kit: a real server on port 0 with a shared base image, for tests that need real sandboxes.
        .target(
            name: "HearthServerTestKit",
            dependencies: ["HearthServer", "HearthClient", "HearthImages", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "HearthCoreTests", dependencies: ["HearthCore"]),
        .testTarget(name: "HearthWireTests", dependencies: ["HearthWire"]),
        .testTarget(name: "HearthAgentTests", dependencies: ["HearthAgent", "HearthRuntime", "HearthTestKit", "HearthControlPlane"]),
        .testTarget(
            name: "HearthServerTests",
            dependencies: ["HearthServer", "HearthClient", "HearthTestKit", "HearthControlPlane", "HearthServerTestKit", "HearthIdentity", "HearthCore",
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(name: "HearthJailTests", dependencies: ["HearthJail"]),
        .testTarget(name: "HearthIdentityTests", dependencies: ["HearthIdentity", "HearthAudit", "HearthCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "HearthStoreTests",
            dependencies: [
                "HearthStore", "HearthStoreS3",
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
            dependencies: ["HearthQEMU", "HearthJail", "HearthServerTestKit", "HearthClient", "HearthAPI"]
        ),
        // The hostile-tenant suite: attacks by a member and a viewer of a second tenant on a live server.
        .testTarget(
            name: "HearthHostileTests",
            dependencies: ["HearthServer", "HearthClient", "HearthAPI", "HearthServerTestKit", "HearthControlPlane", "HearthImages",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(
            name: "HearthGVisorTests",
            dependencies: ["HearthGVisor", "HearthImages", "HearthRuntime", "HearthControlPlane", "HearthServer", "HearthClient", "HearthServerTestKit",
                           .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
    ]
)
