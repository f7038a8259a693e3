import Foundation
import HearthCore

/// Runs host programs (runsc, qemu-img, mount) without blocking the async pool.
public enum HostCommand {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var succeeded: Bool { status == 0 }
    }

    /// Runs to completion, capturing output. `stdio` overrides stdin and stdout with a given fd
    /// (an agent socket), and such fds are never the server's own: runsc makes them non-blocking.
    @discardableResult
    public static func run(_ argv: [String], stdio: Int32? = nil, stderrFile: String? = nil,
                           timeout: Duration = .seconds(60)) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let out = Pipe()
        let err = Pipe()
        if let stdio {
            let handle = FileHandle(fileDescriptor: stdio, closeOnDealloc: false)
            process.standardInput = handle
            process.standardOutput = handle
        } else {
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = out
        }
        if let stderrFile, let handle = FileHandle(forWritingAtPath: stderrFile) ?? createAndOpen(stderrFile) {
            handle.seekToEndOfFile()
            process.standardError = handle
        } else {
            process.standardError = err
        }
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus); exited.continuation.finish() }
        do {
            try process.run()
        } catch {
            throw HearthError(.runtimeUnavailable, "cannot run \(URL(fileURLWithPath: argv[0]).lastPathComponent)",
                              detail: "\(argv.joined(separator: " ")): \(error)")
        }
        let collected = Task.detached { () -> (Data, Data) in
            let o = stdio == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data()
            let e = stderrFile == nil ? err.fileHandleForReading.readDataToEndOfFile() : Data()
            return (o, e)
        }
        let status: Int32 = try await withDeadline(timeout, what: argv[0]) {
            var status: Int32 = -1
            for await s in exited.stream { status = s }
            return status
        }
        let (o, e) = await collected.value
        return Output(status: status, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Starts a long-lived process (a bridge) and returns it; the caller terminates it.
    public static func spawn(_ argv: [String], stdio: Int32, stderrFile: String?) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let handle = FileHandle(fileDescriptor: stdio, closeOnDealloc: false)
        process.standardInput = handle
        process.standardOutput = handle
        process.standardError = stderrFile.flatMap { FileHandle(forWritingAtPath: $0) ?? createAndOpen($0) } ?? FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Looks a program up on PATH and in the sbin directories.
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/sbin"]
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private static func createAndOpen(_ path: String) -> FileHandle? {
        FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }
}

/// A connected pair of stream sockets: one end for the host, one for the sandbox's stdio.
public struct SocketPair: Sendable {
    public let host: Int32
    public let guest: Int32

    public init() throws {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw HearthError(.internal, "cannot create the agent channel", detail: "socketpair: errno \(errno)")
        }
        host = fds[0]
        guest = fds[1]
    }
}

/// Where the host keeps the agent files that every sandbox gets read-only at `/.hearth`.
public struct AgentBundle: Sendable {
    public var directory: String
    public var guestBinary: String { directory + "/hearth-guest" }
    public var statxPreload: String { directory + "/libhearth-statx.so" }

    public init(directory: String) { self.directory = directory }

    /// `HEARTH_AGENT_DIR`, or `hearth-agent/` beside the running executable.
    public static func locate() -> AgentBundle {
        if let dir = ProcessInfo.processInfo.environment["HEARTH_AGENT_DIR"], !dir.isEmpty {
            return AgentBundle(directory: dir)
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return AgentBundle(directory: exe.deletingLastPathComponent().appendingPathComponent("hearth-agent").path)
    }

    public func check() throws {
        guard FileManager.default.isExecutableFile(atPath: guestBinary) else {
            throw HearthError(.runtimeUnavailable, "the guest agent is not built",
                              detail: "missing \(guestBinary); run scripts/setup.sh or set HEARTH_AGENT_DIR")
        }
    }
}
