import Foundation
public import HearthControlPlane
import HearthImages
public import HearthServer
public import HearthTestKit
public import Logging

/// Servers whose only runtime is the test kit's `ProcessRuntime`: the real agent in this process,
/// no sandbox, no root, no base image build. For the API, auth, tenancy, lifecycle and error-path
/// tests; anything about isolation, images or disks uses `LiveServer.start` with real runtimes.
public enum ProcessHost {
    /// A stand-in for the base image: its ref and an empty rootfs, so `base` resolves at once
    /// without mmdebstrap. ProcessRuntime never reads the rootfs.
    public static let standInDigest = String(repeating: "0", count: 63) + "1"

    public static func seedBaseImage(dataDirectory: String) throws {
        let images = dataDirectory + "/images"
        try FileManager.default.createDirectory(atPath: "\(images)/sha256-\(standInDigest)/rootfs/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: images + "/refs", withIntermediateDirectories: true)
        try standInDigest.write(toFile: "\(images)/refs/\(ImageStore.baseReference)-\(ImageStore.baseRecipeDigest().prefix(16))",
                                atomically: true, encoding: .utf8)
    }

    /// `runtime`, probed, as the server's only runtime.
    public static func registry(_ runtime: ProcessRuntime) async -> RuntimeRegistry {
        await RuntimeRegistry.probing([runtime])
    }

    /// The service for `configuration` with `runtime` (not serving: `application()` for router tests).
    public static func service(_ configuration: HearthServerConfiguration, runtime: ProcessRuntime,
                               logger: Logger = ProcessHost.quietLogger) async throws -> HearthService {
        try seedBaseImage(dataDirectory: configuration.dataDirectory)
        return try await HearthService.make(configuration, runtimes: await registry(runtime), logger: logger)
    }

    public static var quietLogger: Logger {
        var logger = Logger(label: "hearth.test")
        logger.logLevel = ProcessInfo.processInfo.environment["HEARTH_TEST_DEBUG"] != nil ? .debug : .critical
        return logger
    }

    /// A fresh data directory under the test's temporary directory, removed at exit.
    public static func scratchDirectory(_ prefix: String) -> String {
        let data = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        ScratchDirectories.removeAtExit(data)
        return data
    }
}

extension LiveServer {
    /// A real server on port 0 whose only runtime is `runtime` (a ProcessRuntime), over real HTTP.
    public static func serveInProcess(_ configuration: HearthServerConfiguration, runtime: ProcessRuntime = ProcessRuntime(),
                                      logger: Logger) async throws -> LiveServer {
        try ProcessHost.seedBaseImage(dataDirectory: configuration.dataDirectory)
        return try await serve(configuration, runtimes: await ProcessHost.registry(runtime), logger: logger)
    }
}
