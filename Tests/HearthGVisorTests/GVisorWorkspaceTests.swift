import Foundation
import HearthAPI
import HearthClient
import HearthCore
import HearthRuntime
import HearthServer
import HearthServerTestKit
import Testing

@Suite(.serialized, .timeLimit(.minutes(10))) struct GVisorWorkspaceTests {
    @Test func createExecAndCoreutilsWork() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "basics"))
        #expect(w.runtime == "gvisor")
        #expect(w.state == "running")
        let ls = try await server.client.run(w.id, ["ls", "-la", "/"])
        #expect(ls.code == 0, "ls must work in every runtime: \(ls.stderrText)")
        #expect(ls.stdoutText.contains("usr"))
        let stat = try await server.client.run(w.id, ["stat", "/etc/hostname"])
        #expect(stat.code == 0)
        let kernel = try await server.client.run(w.id, ["uname", "-r"])
        var host = utsname()
        uname(&host)
        let hostRelease = withUnsafeBytes(of: host.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        #expect(kernel.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) != hostRelease)
        let tools = try await server.client.run(w.id, ["sh", "-c", "git --version && python3 --version && sqlite3 --version && ps aux >/dev/null && echo ok"])
        #expect(tools.code == 0)
        #expect(tools.stdoutText.hasSuffix("ok\n"))
        let missing = try await server.client.run(w.id, ["no-such-binary"])
        #expect(missing.code == 127)
        #expect(missing.stderrText.contains("command not found"))
        try await server.client.delete(w.id)
    }

    @Test func aHostFileIsNotVisibleAndTheHostAPIIsNotReachable() async throws {
        let server = try await LiveServer.shared.value
        let secret = NSTemporaryDirectory() + "hearth-host-secret-\(UUID().uuidString)"
        try "secret".write(toFile: secret, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let w = try await server.client.create(API.CreateWorkspaceBody())
        let look = try await server.client.run(w.id, ["sh", "-c", "test -e '\(secret)' && echo VISIBLE || echo hidden"])
        #expect(look.stdoutText == "hidden\n")
        let port = URL(string: server.url)!.port!
        let probe = """
        import socket
        s = socket.socket(); s.settimeout(3)
        try:
            s.connect(("127.0.0.1", \(port))); print("REACHED")
        except Exception as e:
            print("blocked")
        """
        let reach = try await server.client.run(w.id, ["python3", "-c", probe])
        #expect(reach.stdoutText == "blocked\n")
        try await server.client.delete(w.id)
    }

    @Test func pauseAndResumeKeepACountingProcess() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "counter"))
        _ = try await server.client.run(w.id, ["sh", "-c", "nohup sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/n.next; mv /tmp/n.next /tmp/n; sleep 0.05; done' >/dev/null 2>&1 &"])
        func counter() async throws -> Int {
            Int(try await server.client.run(w.id, ["cat", "/tmp/n"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        #expect(try await Self.eventually { try await counter() > 5 }, "the counter never started")
        let before = try await counter()
        let paused = try await server.client.lifecycle(w.id, "pause")
        #expect(paused.state == "paused")
        do {
            _ = try await server.client.lifecycle(w.id, "pause")
            Issue.record("a second pause was accepted")
        } catch let failure as HearthClient.Failure {
            #expect(failure.status == 409)
        }
        let resumed = try await server.client.lifecycle(w.id, "resume")
        #expect(resumed.state == "running")
        // Restored, not restarted: the same process counts on from its own memory past where it
        // was. A restarted sandbox would have no counting process, and the file would stay put.
        let after = try await counter()
        #expect(after >= before)
        #expect(try await Self.eventually { try await counter() > after + 2 }, "the counting process did not survive the pause")
        try await server.client.delete(w.id)
    }

    /// Polls `condition` until it holds or `timeout` passes.
    static func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test func aMemoryHogIsStoppedByItsLimitAndOthersCarryOn() async throws {
        let server = try await LiveServer.shared.value
        let bystander = try await server.client.create(API.CreateWorkspaceBody())
        let hog = try await server.client.create(API.CreateWorkspaceBody(memory_mib: 256))
        let result = try? await server.client.run(hog.id, ["python3", "-c", "b = bytearray(2 << 30); print('allocated')"])
        #expect(result?.stdoutText.contains("allocated") != true)
        let ok = try await server.client.run(bystander.id, ["echo", "still fine"])
        #expect(ok.stdoutText == "still fine\n")
        #expect(try await server.client.health().status == "ok")
        // Whatever the limit did to the hog's sandbox, the workspace can be started again.
        let state = try await server.client.get(hog.id).state
        if state == "failed" {
            #expect(try await server.client.get(hog.id).failure != nil)
            let restarted = try await server.client.lifecycle(hog.id, "start")
            #expect(restarted.state == "running")
        }
        try await server.client.delete(hog.id)
        try await server.client.delete(bystander.id)
    }

    /// The agent is the sandbox's init: when it dies the workspace is marked failed with a reason,
    /// other workspaces carry on, and a start brings it back. (A guest cannot write into its own
    /// channel from inside gVisor: reopening /proc/1/fd/1 fails with ENXIO, so malformed frames are
    /// tested against the real host connection in HostileGuestTests.)
    @Test func aCrashedAgentMarksTheWorkspaceFailedAndItCanBeRestarted() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody())
        let other = try await server.client.create(API.CreateWorkspaceBody())
        let injection = try await server.client.run(w.id, ["sh", "-c", "printf 'garbage' > /proc/1/fd/1"])
        #expect(injection.code != 0, "a workspace process must not reach the agent channel")
        let kill = try await HostCommand.run(["/usr/bin/runsc", "--root", server.dataDirectory + "/runsc", "kill", "--all", w.id, "KILL"])
        #expect(kill.succeeded, "\(kill.stderr)")
        var state = ""
        for _ in 0..<200 {
            state = try await server.client.get(w.id).state
            if state == "failed" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(state == "failed")
        #expect(try await server.client.get(w.id).failure?.isEmpty == false)
        #expect(try await server.client.run(other.id, ["true"]).code == 0)
        let restarted = try await server.client.lifecycle(w.id, "start")
        #expect(restarted.state == "running")
        #expect(try await server.client.run(w.id, ["echo", "back"]).stdoutText == "back\n")
        try await server.client.delete(w.id)
        try await server.client.delete(other.id)
    }

    @Test func largeOutputIsStreamedNotBuffered() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody())
        var received = 0
        var exit: ExecStream.Exit?
        try await server.client.exec(w.id, API.ExecBody(argv: ["head", "-c", "200000000", "/dev/zero"])) { kind, payload in
            if kind == .stdout { received += payload.count }
            if kind == .exit { exit = try JSONDecoder().decode(ExecStream.Exit.self, from: Data(payload)) }
        }
        #expect(received == 200_000_000)
        #expect(exit?.code == 0)
        try await server.client.delete(w.id)
    }

    @Test func deleteLeavesNothingBehind() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody())
        _ = try await server.client.run(w.id, ["sh", "-c", "sleep 1000 & echo x > /workspace/file"])
        let state = server.dataDirectory + "/workspaces/\(w.id)"
        #expect(FileManager.default.fileExists(atPath: state))
        try await server.client.delete(w.id)
        #expect(!FileManager.default.fileExists(atPath: state))
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(w.id))
        let processes = try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { $0.allSatisfy(\.isNumber) }
        let leftovers = processes.filter { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains(w.id)
        }
        #expect(leftovers.isEmpty)
        await #expect(throws: HearthClient.Failure.self) { _ = try await server.client.get(w.id) }
    }

    @Test func filesRoundTripThroughTheAPI() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody())
        let content = Array((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let chunks = LiveServer.chunks(content)
        try await server.client.upload(w.id, path: "/workspace/dir/blob.bin", length: Int64(content.count), body: chunks)
        var downloaded: [UInt8] = []
        try await server.client.download(w.id, path: "dir/blob.bin") { downloaded += $0.readableBytesView }
        #expect(downloaded == content)
        let list = try await server.client.listFiles(w.id, path: "/workspace/dir")
        #expect(list.entries.map(\.name) == ["blob.bin"])
        let sum = try await server.client.run(w.id, ["sh", "-c", "wc -c < /workspace/dir/blob.bin"])
        #expect(sum.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "3000000")
        try await server.client.delete(w.id)
    }
}

import NIOCore
