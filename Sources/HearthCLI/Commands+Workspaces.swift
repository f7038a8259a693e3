import ArgumentParser
import Foundation
import HearthAPI
import HearthClient

struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create and start a workspace.")
    @OptionGroup var client: ClientOptions
    @Option(help: "Name (lowercase letters, digits, dashes)") var name: String?
    @Option(help: "Image: base, sha256:<digest> (one your tenant may use), or (the operator) oci:NAME from the server's import directory") var image: String?
    @Option(help: "Runtime: gvisor or qemu (default: the best one on the server)") var runtime: String?
    @Option(help: "CPUs") var cpus: Double?
    @Option(help: "Memory in MiB") var memory: Int?
    @Option(help: "Size of the workspace's own disk in MiB (default 16 GiB)") var disk: Int?
    @Option(name: .customLong("commit-interval"), help: "Seconds between commits of its state to the store (10-86400; 0: only on pause, stop and sync; default: the server's)")
    var commitInterval: Int?
    @Option(name: .customLong("idle-timeout"), help: "Pause it after this many seconds without use (300-604800; default: never)")
    var idleTimeout: Int?
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let w = try await withClientErrors {
            try await Terminal.progress("creating workspace") {
                try await BaseImageProgress.whileWaiting(c, for: image) {
                    try await c.create(API.CreateWorkspaceBody(name: name, image: image, runtime: runtime, cpus: cpus, memory_mib: memory, disk_mib: disk,
                                                                commit_interval_s: commitInterval, idle_timeout_s: idleTimeout))
                }
            }
        }
        if json {
            try Terminal.printJSON(w)
        } else {
            // A microVM's acceleration matters to the user: TCG is tens of times slower than KVM.
            let mode = (try? await c.runtimes())?.first { $0.runtime == w.runtime }?.mode ?? nil
            print("\(w.id)  \(w.name)  \(w.state)  runtime=\(w.runtime)\(mode.map { " (\($0))" } ?? "")")
        }
    }
}

struct SetSettings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Change a workspace's idle timeout or commit interval.",
        discussion: "Only the options given change; 0 turns the idle timeout off, or interval commits off.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
    @Option(name: .customLong("idle-timeout"), help: "Pause it after this many seconds without use (300-604800; 0: never)")
    var idleTimeout: Int?
    @Option(name: .customLong("commit-interval"), help: "Seconds between commits of its state to the store (10-86400; 0: only on pause, stop and sync)")
    var commitInterval: Int?
    @Flag(help: "Print JSON") var json = false

    func validate() throws {
        guard idleTimeout != nil || commitInterval != nil else { throw ValidationError("give --idle-timeout or --commit-interval") }
    }

    func run() async throws {
        let c = try client.client()
        let w = try await withClientErrors {
            try await c.configure(workspace, API.WorkspaceSettingsBody(idle_timeout_s: idleTimeout, commit_interval_s: commitInterval))
        }
        if json { return try Terminal.printJSON(w) }
        print("\(w.name)  idle timeout: \(w.idle_timeout_s.map { "\($0) s" } ?? "never")  commit interval: \(w.commit_interval_s.map { "\($0) s" } ?? "the server's")")
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List workspaces.")
    @OptionGroup var client: ClientOptions
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let all = try await withClientErrors { try await c.list() }
        if json { return try Terminal.printJSON(all) }
        print("ID                        NAME                  STATE     RUNTIME  CPUS  MEMORY")
        for w in all {
            print("\(w.id.padding(toLength: 25, withPad: " ", startingAt: 0)) \(w.name.padding(toLength: 21, withPad: " ", startingAt: 0)) \(w.state.padding(toLength: 9, withPad: " ", startingAt: 0)) \(w.runtime.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(w.cpus).padding(toLength: 5, withPad: " ", startingAt: 0)) \(w.memory_mib)MiB")
        }
    }
}

/// pause, resume, stop, start: one workspace, one verb.
protocol LifecycleCommand: AsyncParsableCommand {
    static var verb: String { get }
    var client: ClientOptions { get }
    var workspace: String { get }
}

extension LifecycleCommand {
    func run() async throws {
        let c = try client.client()
        let w = try await withClientErrors {
            try await Terminal.progress("\(Self.verb == "stop" ? "stopping" : Self.verb.dropLast(Self.verb.hasSuffix("e") ? 1 : 0) + "ing") \(workspace)") {
                try await c.lifecycle(workspace, Self.verb)
            }
        }
        print("\(w.name)  \(w.state)")
    }
}

struct Pause: LifecycleCommand {
    static let configuration = CommandConfiguration(abstract: "Save a workspace's memory and disk, and stop it.")
    static let verb = "pause"
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
}

struct Resume: LifecycleCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a paused workspace with its processes.")
    static let verb = "resume"
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
}

struct Stop: LifecycleCommand {
    static let configuration = CommandConfiguration(abstract: "Stop a workspace (SIGTERM, then SIGKILL).")
    static let verb = "stop"
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
}

struct Start: LifecycleCommand {
    static let configuration = CommandConfiguration(abstract: "Start a stopped or failed workspace.")
    static let verb = "start"
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a workspace and everything in it.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String

    func run() async throws {
        let c = try client.client()
        try await withClientErrors { try await Terminal.progress("deleting \(workspace)") { try await c.delete(workspace) } }
    }
}

struct Ports: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List TCP ports listening inside a workspace.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let ports = try await withClientErrors { try await c.ports(workspace) }
        if json { return try Terminal.printJSON(ports) }
        for p in ports { print("\(p.port)\t\(p.address)\t\(p.family)") }
    }
}
