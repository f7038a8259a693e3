import Foundation
import HearthStore
import HearthStoreS3
import Synchronization

/// The `hearth` executable built next to this test bundle, run as a separate process the way a
/// user runs it, with a KEK file of the test's key.
struct HearthCLI {
    let binary: String
    let kekFile: String
    let environment: [String: String]

    init(scratch: Scratch, kek: KeyEncryptionKey) throws {
        let bundle = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        binary = URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("hearth").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw StoreError(.notFound, "the hearth executable is not built next to the tests", detail: binary)
        }
        kekFile = scratch.path("kek").path
        try KeyEncryptionKey.write(kek, to: kekFile)
        var environment = ProcessInfo.processInfo.environment
        environment["HEARTH_KEK_FILE"] = kekFile
        environment["HEARTH_DEBUG"] = "1"
        environment["AWS_ACCESS_KEY_ID"] = SeaweedFS.accessKey
        environment["AWS_SECRET_ACCESS_KEY"] = SeaweedFS.secretKey
        environment["XDG_CACHE_HOME"] = scratch.path("cache").path
        self.environment = environment
    }

    /// A running process whose standard error is collected as it arrives.
    final class Running: Sendable {
        let process: Process
        private let collected = Mutex(Data())
        init(process: Process, pipe: Pipe) {
            self.process = process
            pipe.fileHandleForReading.readabilityHandler = { [self] handle in
                let data = handle.availableData
                self.collected.withLock { $0.append(data) }
            }
        }
        func stderr() -> String { collected.withLock { String(decoding: $0, as: UTF8.self) } }
    }

    func start(_ arguments: [String], asNobody: Bool = false, home: String? = nil) throws -> Running {
        let process = Process()
        var environment = self.environment
        if let home { environment["HOME"] = home; environment["XDG_CACHE_HOME"] = home + "/.cache" }
        if asNobody {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let pipe = Pipe()
        process.standardError = pipe
        let running = Running(process: process, pipe: pipe)
        try process.run()
        return running
    }

    func run(_ arguments: [String], asNobody: Bool = false, home: String? = nil) throws -> (status: Int32, stderr: String) {
        let running = try start(arguments, asNobody: asNobody, home: home)
        running.process.waitUntilExit()
        // The last bytes may still be in the pipe when the process is reaped.
        Thread.sleep(forTimeInterval: 0.05)
        return (running.process.terminationStatus, running.stderr())
    }
}

enum StoreURLs {
    /// The store URL a separate `hearth` process uses to reach the same store.
    static func url(for store: any ObjectStore) throws -> String {
        if let local = store as? LocalObjectStore { return "file://" + local.root.path }
        if let s3 = store as? S3ObjectStore {
            let configuration = s3.configuration
            return "s3://\(configuration.bucket)/\(configuration.prefix)?endpoint=\(configuration.endpoint.absoluteString)&region=\(configuration.region)"
        }
        throw StoreError(.invalidArgument, "no URL for \(store.location)")
    }
}

/// A tmpfs of a fixed size, mounted for one test: a disk that fills up for real. Needs root, as CI has.
struct TmpfsMount {
    let url: URL

    init(at url: URL, bytes: Int) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/usr/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=\(bytes)", "hearth-test", url.path]
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else { throw StoreError(.io, "cannot mount a tmpfs at \(url.path) (the store tests run as root)") }
        self.url = url
    }

    func unmount() { _ = url.path.withCString { umount2($0, Int32(MNT_DETACH)) } }
}
