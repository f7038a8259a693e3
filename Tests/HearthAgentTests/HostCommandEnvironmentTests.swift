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

    /// A command past its deadline is killed, and the call ends with a timeout error then, not when
    /// the command would have finished (a task group that waits for its waiting child did not end
    /// until the child exited by itself).
    @Test(.timeLimit(.minutes(1))) func aCommandPastItsDeadlineIsKilled() async throws {
        let pidFile = NSTemporaryDirectory() + "hearth-timeout-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let error = await #expect(throws: HearthError.self) {
            try await HostCommand.run(["/bin/sh", "-c", "echo $$ > \(pidFile); exec sleep 600"], timeout: .milliseconds(300))
        }
        #expect(error?.code == .timeout)
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // Killed and reaped: the pid no longer names a process of ours.
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)"))
    }
}
