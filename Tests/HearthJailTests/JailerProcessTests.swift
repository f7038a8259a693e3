import Foundation
import HearthJail
import Testing

/// Runs the real `hearth-jailer` (the one this build produced, next to the test bundle) around a
/// harmless program and inspects the process it became: what a compromised VMM would be left with.
@Suite(.serialized) struct JailerProcessTests {
    static var jailer: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("hearth-jailer").path
    }

    /// The jailed process has its own empty network namespace, an empty environment, the asked-for
    /// uid, and its one writable directory is mounted noexec.
    @Test(.enabled(if: getuid() == 0, "the jailer needs root"))
    func theVMMGetsNoNetworkNoEnvironmentAndANoexecWritableDirectory() async throws {
        let scratch = NSTemporaryDirectory() + "hearth-jailer-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch + "/jail", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch + "/vm", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let uid: UInt32 = 123_457
        let spec = JailSpec(root: scratch + "/jail", uid: uid, gid: uid,
                            binds: [.init(source: scratch + "/vm", target: "/vm", writable: true)],
                            kvm: false, cgroup: nil, incoming: nil, command: ["/usr/bin/sleep", "60"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.jailer)
        process.arguments = spec.arguments
        process.environment = ["HEARTH_ADMIN_TOKEN": "must-not-leak", "PATH": "/usr/bin:/bin"]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let pid = process.processIdentifier

        // The jailer becomes the program in place: wait until it has.
        let deadline = ContinuousClock.now + .seconds(20)
        var comm = ""
        while ContinuousClock.now < deadline {
            comm = ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if comm == "sleep" || !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(comm == "sleep", "the jailer did not exec its program (comm \(comm), running \(process.isRunning))")

        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
        #expect(environ.isEmpty, "environment: \(String(decoding: environ, as: UTF8.self))")
        #expect(Self.link("/proc/\(pid)/ns/net") != Self.link("/proc/self/ns/net"), "the VMM must have its own network namespace")
        #expect(Self.link("/proc/\(pid)/ns/net") != nil)
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        #expect(uidLine.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().allSatisfy { $0 == "\(uid)" }, "\(uidLine)")
        let mounts = (try? String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8)) ?? ""
        let vm = mounts.split(separator: "\n").first { $0.split(separator: " ").dropFirst(4).first == "/vm" }.map(String.init) ?? ""
        let options = vm.split(separator: " ").dropFirst(5).first.map { $0.split(separator: ",").map(String.init) } ?? []
        #expect(options.contains("noexec") && options.contains("nosuid") && options.contains("nodev"), "/vm mount: \(vm)")
    }

    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buffer, buffer.count - 1)
        return n > 0 ? String(cString: buffer) : nil
    }
}
