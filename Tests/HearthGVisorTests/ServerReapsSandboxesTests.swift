import Foundation
import HearthAPI
import HearthClient
import HearthImages
import Logging
import Testing

/// `hearth serve` is a child subreaper: runsc's detached sandbox and gofer are re-parented to it
/// and reaped the moment they exit. Before, they were re-parented to PID 1, and `runsc delete`
/// waited for PID 1 to reap the killed sandbox (about 1.8 s on this project's machines; forever
/// where Hearth is PID 1). Needs the built `hearth` binary and a real gVisor sandbox: the
/// subreaper role and the reaper belong to the `serve` process, never to a test process.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServerReapsSandboxesTests {
    @Test func aWorkspacesSandboxIsTheServersChildAndLeavesNothingBehind() async throws {
        let root = try #require(ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"], "run through scripts/test.sh")
        let data = root + "/reaper-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: root + "/images", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: data + "/images", withDestinationPath: root + "/images")
        _ = try await ImageStore(root: root + "/images", logger: Logger(label: "hearth.test")).base()

        let server = try await ServeProcess.start(data: data, log: data + "/serve.log")
        do {
            let serverPid = server.process.processIdentifier
            let client = server.client
            for round in 0..<2 {
                let ws = try await client.create(API.CreateWorkspaceBody(runtime: "gvisor"))
                #expect(try await client.run(ws.id, ["/bin/true"]).exit?.code == 0)
                let sandbox = Self.runscProcesses(workspace: ws.id)
                #expect(!sandbox.isEmpty, "no runsc process serves \(ws.id)")
                for process in sandbox {
                    #expect(process.parent == serverPid, "round \(round): \(process) is not the server's child")
                }
                if round == 0 {
                    _ = try await client.lifecycle(ws.id, "stop")
                    _ = try await client.lifecycle(ws.id, "start")
                    #expect(try await client.run(ws.id, ["/bin/true"]).exit?.code == 0)
                }
                try await client.delete(ws.id)
                // Nothing of the workspace is left, not even a zombie waiting to be collected.
                #expect(Self.runscProcesses(workspace: ws.id).isEmpty, "\(Self.runscProcesses(workspace: ws.id))")
            }
            #expect(Self.zombieChildren(of: serverPid).isEmpty)
            await server.terminate()
        } catch {
            await server.terminate()
            throw ServeFailure(what: "\(error)", log: (try? String(contentsOfFile: data + "/serve.log", encoding: .utf8)) ?? "")
        }
    }

    struct HostProcess: CustomStringConvertible {
        let pid: Int32
        let parent: Int32
        let state: Character
        let command: String
        var description: String { "\(pid) (parent \(parent), state \(state)): \(command.prefix(120))" }
    }

    /// Every host process whose command line names the workspace: its sandbox, gofer and anything
    /// runsc left, zombies included.
    static func runscProcesses(workspace id: String) -> [HostProcess] {
        allProcesses().filter { $0.command.hasPrefix("runsc") && $0.command.contains(id) }
    }

    static func zombieChildren(of pid: Int32) -> [HostProcess] {
        allProcesses().filter { $0.parent == pid && $0.state == "Z" }
    }

    static func allProcesses() -> [HostProcess] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> HostProcess? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // After "pid (comm)": state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, let state = fields[0].first, let parent = Int32(fields[1]) else { return nil }
            // A zombie's command line is empty; its name stays in `comm`.
            let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") ?? Data()
            var command = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            if command.isEmpty, let open = stat.firstIndex(of: "(") {
                command = String(stat[stat.index(after: open)..<close])
            }
            return HostProcess(pid: pid, parent: parent, state: state, command: command)
        }
    }
}
