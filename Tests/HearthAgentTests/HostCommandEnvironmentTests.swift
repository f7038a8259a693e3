import Foundation
import HearthCore
import HearthRuntime
import Testing

/// Host commands (runsc, mkfs.ext4, mmdebstrap) get the configured minimal environment, never the
/// server's: a secret in the server's environment must not reach them or, through runsc, a sandbox.
@Suite struct HostCommandEnvironmentTests {
    @Test func aChildDoesNotInheritTheProcessEnvironment() async throws {
        let key = "HEARTH_TEST_SECRET_\(UInt32.random(in: 0...UInt32.max))"
        setenv(key, "do-not-leak", 1)
        defer { unsetenv(key) }
        #expect(ProcessInfo.processInfo.environment[key] == "do-not-leak")

        let output = try await HostCommand.run(["/usr/bin/env"], environment: .default)
        #expect(output.succeeded)
        let lines = Set(output.stdout.split(separator: "\n").map(String.init))
        #expect(!output.stdout.contains(key))
        #expect(!output.stdout.contains("do-not-leak"))
        #expect(lines == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"])
    }

    @Test func theHostEnvironmentPassesOnlyItsSearchPathAndAllowedVariables() async throws {
        let host = ["PATH": "/opt/tools/bin:relative:/usr/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
                    "HEARTH_TOKEN": "tok", "https_proxy": "http://proxy:3128"]
        let environment = HostCommand.Environment(host: host)
        // The host's absolute directories first, then the defaults it lacks; "relative" is dropped.
        #expect(environment.searchPath == ["/opt/tools/bin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/sbin", "/bin"])
        #expect(environment.variables == ["LANG": "C.UTF-8", "HOME": "/root", "https_proxy": "http://proxy:3128"])

        let output = try await HostCommand.run(["/usr/bin/env"], environment: environment)
        #expect(output.succeeded)
        #expect(!output.stdout.contains("s3cr3t"))
        #expect(!output.stdout.contains("HEARTH_TOKEN"))
        #expect(output.stdout.contains("PATH=/opt/tools/bin:/usr/bin:/usr/local/sbin:"))
        #expect(output.stdout.contains("HOME=/root\n"))
    }

    @Test func whichSearchesOnlyTheConfiguredDirectories() {
        #expect(HostCommand.Environment.default.which("env") == "/usr/bin/env")
        #expect(HostCommand.Environment(searchPath: ["/nonexistent"]).which("env") == nil)
        // A name with a slash is a path, not something to look up.
        #expect(HostCommand.Environment.default.which("../bin/env") == nil)
        #expect(HostCommand.Environment.default.which("") == nil)
    }

    /// The server runs what `which` finds as root: a program in a directory others may write, or
    /// one others may write, is passed over for the next directory's.
    @Test func whichPassesOverWhatOthersCouldHavePlaced() throws {
        let base = NSTemporaryDirectory() + "hearth-which-\(UUID().uuidString)"
        let open = base + "/open", shared = base + "/shared"
        defer { try? FileManager.default.removeItem(atPath: base) }
        for dir in [open, shared] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        chmod(open, 0o777)
        for dir in [open, shared] {
            FileManager.default.createFile(atPath: dir + "/env", contents: Data("#!/bin/sh\n".utf8))
            chmod(dir + "/env", 0o755)
        }
        chmod(shared + "/env", 0o775)
        #expect(HostCommand.Environment(searchPath: [open, "/usr/bin"]).which("env") == "/usr/bin/env", "a world-writable directory")
        #expect(HostCommand.Environment(searchPath: [shared, "/usr/bin"]).which("env") == "/usr/bin/env", "a group-writable program")
        chmod(shared + "/env", 0o755)
        #expect(HostCommand.Environment(searchPath: [shared, "/usr/bin"]).which("env") == shared + "/env", "the owner's own, not writable by others")
    }

    /// A command past its deadline is killed with everything it started (a child holding its
    /// output pipe open would otherwise keep the call waiting), and the call ends with a timeout
    /// error then, not when the command would have finished.
    @Test(.timeLimit(.minutes(1))) func aCommandPastItsDeadlineIsKilledWithWhatItStarted() async throws {
        let dir = NSTemporaryDirectory() + "hearth-timeout-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = await #expect(throws: HearthError.self) {
            try await HostCommand.run(["/bin/sh", "-c", "echo $$ > \(dir)/sh; sleep 600 & echo $! > \(dir)/child; wait"],
                                      timeout: .seconds(2))
        }
        #expect(error?.code == .timeout)
        for name in ["sh", "child"] {
            let pid = try #require(Int32(try String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            try await Self.until("\(name) \(pid) gone") { !Self.isAlive(pid) }
        }
    }

    /// A caller that gives up (its task is cancelled) takes the command down with it.
    @Test(.timeLimit(.minutes(1))) func aCancelledCallKillsItsCommand() async throws {
        let pidFile = NSTemporaryDirectory() + "hearth-cancel-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let call = Task { try await HostCommand.run(["/bin/sh", "-c", "echo $$ > \(pidFile); exec sleep 600"], timeout: .seconds(600)) }
        try await Self.until("the command started") { FileManager.default.fileExists(atPath: pidFile) }
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        call.cancel()
        await #expect(throws: CancellationError.self) { _ = try await call.value }
        try await Self.until("the command gone") { !Self.isAlive(pid) }
    }

    /// Running, and not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    static func until(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() {
            try #require(ContinuousClock.now < deadline, "\(what): not within 20 s")
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
