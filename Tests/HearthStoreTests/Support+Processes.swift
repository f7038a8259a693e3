import Foundation
@testable import HearthStore
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

    /// A running `hearth`, started by a shell that records its pid and, when it ends, its exit
    /// status in files. The test process cannot rely on its own `waitpid`: the in-process agent
    /// tests start a reaper that collects every child of this process, statuses included.
    final class Running: Sendable {
        private let shell: Process
        private let pidFile: String
        private let statusFile: String
        private let collected = Mutex(Data())

        init(arguments: [String], environment: [String: String], directory: URL) throws {
            let name = UUID().uuidString
            pidFile = directory.appendingPathComponent("\(name).pid").path
            statusFile = directory.appendingPathComponent("\(name).status").path
            shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/sh")
            shell.arguments = ["-c", #""$@" & echo $! > "$HEARTH_PID_FILE.tmp"; mv "$HEARTH_PID_FILE.tmp" "$HEARTH_PID_FILE"; wait $!; echo $? > "$HEARTH_STATUS_FILE.tmp"; mv "$HEARTH_STATUS_FILE.tmp" "$HEARTH_STATUS_FILE""#, "sh"] + arguments
            shell.environment = environment.merging(["HEARTH_PID_FILE": pidFile, "HEARTH_STATUS_FILE": statusFile]) { $1 }
            shell.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            let pipe = Pipe()
            shell.standardError = pipe
            pipe.fileHandleForReading.readabilityHandler = { [self] handle in
                let data = handle.availableData
                self.collected.withLock { $0.append(data) }
            }
            try shell.run()
        }

        /// The pid of `hearth` itself (not the shell's), for signals.
        func pid() throws -> pid_t {
            for _ in 0..<1000 {
                if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return pid }
                usleep(10_000)
            }
            throw StoreError(.unavailable, "hearth did not start")
        }

        /// The exit status once `hearth` has ended; nil while it runs.
        var status: Int32? {
            (try? String(contentsOfFile: statusFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        var isRunning: Bool { status == nil }

        func stderr() -> String { collected.withLock { String(decoding: $0, as: UTF8.self) } }
    }

    func start(_ arguments: [String], asNobody: Bool = false, home: String? = nil, directory: URL) throws -> Running {
        var environment = self.environment
        if let home { environment["HOME"] = home; environment["XDG_CACHE_HOME"] = home + "/.cache" }
        let command = asNobody ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", binary] : [binary]
        return try Running(arguments: command + arguments, environment: environment, directory: directory)
    }

    func run(_ arguments: [String], asNobody: Bool = false, home: String? = nil, directory: URL) async throws -> (status: Int32, stderr: String) {
        let running = try start(arguments, asNobody: asNobody, home: home, directory: directory)
        while running.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        // The last bytes may still be in the pipe when the status is written.
        try await Task.sleep(for: .milliseconds(50))
        return (running.status!, running.stderr())
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
