import Foundation
import HearthCore
import HearthRuntime
import Testing

/// `HostCommand.reapChildren()` (what `hearth serve` does) takes every child's exit in its
/// process, Foundation's `Process` children included, so it runs in a child test process of its
/// own: this test runs itself again with `HEARTH_REAPER_CHILD=1`, and that run does the checks.
@Suite(.timeLimit(.minutes(2))) struct HostCommandReaperTests {
    @Test func eachCommandGetsItsOwnStatusAndOrphansAreReaped() async throws {
        if ProcessInfo.processInfo.environment["HEARTH_REAPER_CHILD"] == "1" {
            try await Self.checksUnderTheReaper()
            return
        }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        child.arguments = ["--testing-library", "swift-testing", "--filter", "HostCommandReaperTests"]
        child.environment = ProcessInfo.processInfo.environment.merging(["HEARTH_REAPER_CHILD": "1"]) { $1 }
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        #expect(child.terminationStatus == 0, "\(text.suffix(3000))")
        #expect(text.contains("eachCommandGetsItsOwnStatusAndOrphansAreReaped() passed"), "\(text.suffix(3000))")
    }

    static func checksUnderTheReaper() async throws {
        HostCommand.reapChildren()
        #expect(HostCommand.reapsChildren)
        // Many commands at once, each with its own exit code: no status goes to the wrong waiter.
        try await withThrowingTaskGroup(of: (Int32, Int32).self) { group in
            for code in Int32(0)..<24 {
                group.addTask { (code, try await HostCommand.run(["/bin/sh", "-c", "exit \(code)"]).status) }
            }
            for try await (code, status) in group { #expect(status == code) }
        }
        #expect(try await HostCommand.run(["/bin/sh", "-c", "kill -9 $$"]).status == 128 + 9)
        #expect(try await HostCommand.run(["/bin/echo", "hello"]).stdout == "hello\n")
        // An orphan (a grandchild whose parent exits first) is re-parented here and reaped.
        let pidFile = NSTemporaryDirectory() + "hearth-orphan-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        _ = try await HostCommand.run(["/bin/sh", "-c", "(sleep 1 & echo $! > \(pidFile)) </dev/null >/dev/null 2>&1"])
        let orphan = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // Re-parented to this process (the subreaper), not to PID 1, which may reap late or never.
        let stat = try String(contentsOfFile: "/proc/\(orphan)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
        #expect(fields.count > 1 && Int32(fields[1]) == getpid(), "\(stat)")
        let deadline = ContinuousClock.now + .seconds(20)
        while FileManager.default.fileExists(atPath: "/proc/\(orphan)") {
            try #require(ContinuousClock.now < deadline, "the orphan \(orphan) was not reaped")
            try await Task.sleep(for: .milliseconds(20))
        }
        // A deadline under the reaper: killed, reported, gone.
        let error = await #expect(throws: HearthError.self) { try await HostCommand.run(["/bin/sleep", "600"], timeout: .milliseconds(500)) }
        #expect(error?.code == .timeout)
        // Still reaping after all of it.
        #expect(try await HostCommand.run(["/bin/true"]).status == 0)
    }
}
