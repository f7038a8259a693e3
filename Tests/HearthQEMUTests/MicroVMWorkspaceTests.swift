import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import NIOCore
import Testing

/// One microVM through its life: boot, exec, files, isolation, the jail, pause and resume, delete.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MicroVMWorkspaceTests {
    @Test func aMicroVMWorkspaceLivesAndDiesCleanly() async throws {
        let server = try await LiveServer.shared.value
        let mode = try await MicroVM.requireQEMU(server)
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "microvm", runtime: "qemu", memory_mib: 256))
        #expect(w.runtime == "qemu")
        #expect(w.state == "running")

        // Exec, coreutils and the guest's own kernel.
        let ls = try await server.client.run(w.id, ["ls", "-la", "/"])
        #expect(ls.code == 0, "ls must work in every runtime: \(ls.stderrText)")
        #expect(ls.stdoutText.contains("usr"))
        let kernel = try await server.client.run(w.id, ["uname", "-r"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!kernel.isEmpty)
        #expect(kernel != MicroVM.hostKernelRelease())
        let missing = try await server.client.run(w.id, ["no-such-binary"])
        #expect(missing.code == 127)
        let mounts = try await server.client.run(w.id, ["sh", "-c", "grep ' /workspace ' /proc/mounts"]).stdoutText
        #expect(mounts.contains("ext4"), "/workspace is its own disk: \(mounts)")

        // A file round trip through the API, onto the /workspace disk.
        let content = Array((0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let chunks = LiveServer.chunks(content)
        try await server.client.upload(w.id, path: "/workspace/blob.bin", length: Int64(content.count), body: chunks)
        var downloaded: [UInt8] = []
        try await server.client.download(w.id, path: "/workspace/blob.bin") { downloaded += $0.readableBytesView }
        #expect(downloaded == content)

        // A host file is not there.
        let secret = NSTemporaryDirectory() + "hearth-host-secret-\(UUID().uuidString)"
        try "secret".write(toFile: secret, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let look = try await server.client.run(w.id, ["sh", "-c", "test -e '\(secret)' && echo VISIBLE || echo hidden"])
        #expect(look.stdoutText == "hidden\n")

        // The jailer really dropped privileges: QEMU is unprivileged, seccomp-filtered, in its own cgroup.
        let pid = try #require(MicroVM.qemuPID(server, w.id))
        let status = MicroVM.processStatus(pid)
        let uids = status["Uid"]?.split(whereSeparator: { $0 == "\t" || $0 == " " }) ?? []
        #expect(uids.count == 4 && !uids.contains("0"), "QEMU uids: \(status["Uid"] ?? "?")")
        #expect(status["Seccomp"] == "2", "QEMU must run under its seccomp filter")
        #expect(status["NoNewPrivs"] == "1")
        let cgroups = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
        #expect(cgroups.contains("hearth-vm/\(w.id)"))
        var root = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/root", &root, root.count - 1)
        #expect(n > 0 && String(cString: root).hasSuffix("/jail"), "QEMU is chrooted into its jail")
        // Issue 14 #18: its own network namespace, an empty environment, a uid of its own.
        var ns = [CChar](repeating: 0, count: 256), hostNS = [CChar](repeating: 0, count: 256)
        _ = readlink("/proc/\(pid)/ns/net", &ns, ns.count - 1)
        _ = readlink("/proc/self/ns/net", &hostNS, hostNS.count - 1)
        #expect(String(cString: ns) != String(cString: hostNS), "QEMU must have its own network namespace")
        let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data([0])
        #expect(environ.isEmpty, "QEMU must run with an empty environment")
        #expect(uids.allSatisfy { (UInt32($0) ?? 0) >= 100_000 }, "QEMU runs as a uid of its own: \(status["Uid"] ?? "?")")
        var vmInfo = stat()
        #expect(stat(MicroVM.stateDirectory(server, w.id) + "/vm", &vmInfo) == 0 && "\(vmInfo.st_uid)" == uids.first.map(String.init))

        // Pause and resume keep a counting process counting.
        _ = try await server.client.run(w.id, ["sh", "-c", "nohup sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/n.next; mv /tmp/n.next /tmp/n; sleep 0.05; done' >/dev/null 2>&1 &"])
        try await Task.sleep(for: .milliseconds(500))
        let before = try await MicroVM.counter(server.client, w.id)
        #expect(before > 0)
        #expect(try await server.client.lifecycle(w.id, "pause").state == "paused")
        #expect(MicroVM.qemuPID(server, w.id) == nil, "a paused microVM holds no process")
        #expect(try await server.client.lifecycle(w.id, "resume").state == "running")
        let after = try await MicroVM.counter(server.client, w.id)
        #expect(after >= before, "restored, not rebooted (\(mode))")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await MicroVM.counter(server.client, w.id) > after)

        // Delete leaves no process, disk, socket or cgroup.
        let state = MicroVM.stateDirectory(server, w.id)
        try await server.client.delete(w.id)
        #expect(kill(pid, 0) != 0 || MicroVM.processStatus(pid)["Name"]?.hasPrefix("qemu") != true)
        #expect(MicroVM.qemuPID(server, w.id) == nil)
        #expect(!FileManager.default.fileExists(atPath: state))
        for controller in ["memory", "cpu"] {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(controller)/hearth-vm/\(w.id)"))
        }
    }
}
