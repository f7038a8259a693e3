import Foundation
import HearthClient
import HearthServerTestKit
import NIOCore

/// Helpers shared by the microVM tests. Each test file boots one small guest under whatever
/// acceleration the host has (TCG here and in CI).
enum MicroVM {
    static func requireQEMU(_ server: LiveServer) async throws -> String {
        let qemu = try await server.client.runtimes().first { $0.runtime == "qemu" }
        guard let qemu, qemu.available, let mode = qemu.mode else {
            throw Unavailable(reason: qemu?.reason ?? "no qemu runtime")
        }
        return mode
    }

    struct Unavailable: Error, CustomStringConvertible {
        var reason: String
        var description: String { "the qemu runtime must work on this host (scripts/setup.sh installs it): \(reason)" }
    }

    static func stateDirectory(_ server: LiveServer, _ id: String) -> String { server.dataDirectory + "/workspaces/" + id }

    static func qemuPID(_ server: LiveServer, _ id: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: stateDirectory(server, id) + "/qemu.pid", encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 else { return nil }
        return pid
    }

    static func processStatus(_ pid: pid_t) -> [String: String] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    static func counter(_ client: HearthClient, _ id: String) async throws -> Int {
        Int(try await client.run(id, ["cat", "/tmp/n"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Polls the workspace until it reaches `state`; the control plane learns of a dead VM from
    /// its closed channel, asynchronously.
    static func waitForState(_ client: HearthClient, _ id: String, _ state: String, attempts: Int = 200) async throws -> String {
        var current = ""
        for _ in 0..<attempts {
            current = try await client.get(id).state
            if current == state { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return current
    }

    static func hostKernelRelease() -> String {
        var host = utsname()
        uname(&host)
        return withUnsafeBytes(of: host.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }
}
