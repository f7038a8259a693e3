import Foundation
public import HearthClient
import HearthAPI
public import HearthControlPlane
public import HearthHost
import HearthIdentity
import HearthImages
public import HearthNetwork
import HearthRuntime
public import HearthServer
public import Logging
public import NIOCore

/// A real Hearth server on port 0 with every runtime this host has, one per test process. Its data
/// directory is fresh; the base image is shared through `HEARTH_TEST_DATA/images` so it is built once.
public struct LiveServer: Sendable {
    public let service: HearthService
    public let client: HearthClient
    public let url: String
    public let dataDirectory: String
    public let token: String
    /// The task running the server's service group; `stop()` cancels it, which shuts it down gracefully.
    let running: Task<Void, any Error>

    public static let shared = Task { try await LiveServer.start() }

    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String { "run the suite with scripts/test.sh (it sets HEARTH_TEST_DATA and builds the agent)" }
    }

    public static func start(dataDirectory: String? = nil,
                             configure: (inout HearthServerConfiguration) -> Void = { _ in },
                             host: (inout HostRuntimes) -> Void = { _ in },
                             network: WorkspaceNetworks? = nil) async throws -> LiveServer {
        let env = ProcessInfo.processInfo.environment
        guard let root = env["HEARTH_TEST_DATA"] else { throw NotConfigured() }
        let data = dataDirectory ?? "\(root)/run-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/images", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: data + "/images") {
            try FileManager.default.createSymbolicLink(atPath: data + "/images", withDestinationPath: root + "/images")
        }
        var logger = Logger(label: "hearth.test")
        logger.logLevel = ProcessInfo.processInfo.environment["HEARTH_TEST_DEBUG"] != nil ? .debug : .warning
        // Build the shared base image before any request waits on it.
        _ = try await ImageStore(root: root + "/images", logger: logger).base()
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.imageImportDirectory = data + "/imports"
        try FileManager.default.createDirectory(atPath: data + "/imports", withIntermediateDirectories: true)
        configure(&configuration)
        var runtimes = hostRuntimes(dataDirectory: data)
        runtimes.networking = network
        host(&runtimes)
        return try await serve(configuration, runtimes: try await runtimes.probe(logger: logger), logger: logger, network: network)
    }

    /// A server of its own with no image store (for tests that need no sandbox): a scratch data
    /// directory named after `name`, removed at exit, cheap bcrypt, quiet logs; `configure` adjusts it.
    public static func scratch(_ name: String, configure: (inout HearthServerConfiguration) -> Void = { _ in }) async throws -> LiveServer {
        let data = NSTemporaryDirectory() + "hearth-\(name)-\(UUID().uuidString.prefix(8))"
        ScratchDirectories.removeAtExit(data)
        var logger = Logger(label: "hearth.test")
        logger.logLevel = .critical
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        configure(&configuration)
        return try await serveInProcess(configuration, logger: logger)
    }

    /// This host's gVisor and QEMU drivers for `dataDirectory`, with the agent the suite built
    /// (`HEARTH_AGENT_DIR`, which scripts/test.sh sets).
    public static func hostRuntimes(dataDirectory: String) -> HostRuntimes {
        HostRuntimes(dataDirectory: dataDirectory,
                     agentDirectory: AgentBundle.locate(configured: ProcessInfo.processInfo.environment["HEARTH_AGENT_DIR"]).directory)
    }

    /// Makes and runs a server for `configuration` (port 0) with `runtimes` (nil: this host's, probed),
    /// and waits until it listens.
    public static func serve(_ configuration: HearthServerConfiguration, runtimes: RuntimeRegistry? = nil,
                             logger: Logger, network: WorkspaceNetworks? = nil) async throws -> LiveServer {
        let data = configuration.dataDirectory
        let registry: RuntimeRegistry
        if let runtimes {
            registry = runtimes
        } else {
            registry = try await hostRuntimes(dataDirectory: data).probe(logger: logger)
        }
        let service = try await HearthService.make(configuration, runtimes: registry, logger: logger, network: network)
        let port = AsyncStream<Int>.makeStream()
        let running = Task { try await service.run { port.continuation.yield($0) } }
        var bound = 0
        for await p in port.stream { bound = p; break }
        let token = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let url = "http://127.0.0.1:\(bound)"
        return LiveServer(service: service, client: HearthClient(baseURL: url, token: token), url: url, dataDirectory: data, token: token,
                          running: running)
    }
}

extension LiveServer {
    /// Shuts the server down (as SIGTERM would: sandboxes keep running) and waits until it has.
    public func stop() async {
        running.cancel()
        _ = await running.result
    }

    /// `bytes` as a request body of 64 KiB buffers.
    public static func chunks(_ bytes: [UInt8], size: Int = 65536) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            for start in stride(from: 0, to: bytes.count, by: size) {
                continuation.yield(ByteBuffer(bytes: bytes[start..<min(start + size, bytes.count)]))
            }
            continuation.finish()
        }
    }
}

extension HearthClient.ExecResult {
    public var code: Int32? { exit?.code }
}
