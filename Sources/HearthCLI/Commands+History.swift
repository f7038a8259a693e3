import ArgumentParser
import Foundation
import HearthAPI
import HearthClient

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commit a workspace's state to the store now, and wait until it is durable.",
        discussion: "Prints the generation that holds everything the workspace wrote before the call.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let result = try await withClientErrors { try await Terminal.progress("committing \(workspace)") { try await c.sync(workspace) } }
        if json { return try Terminal.printJSON(result) }
        print(result.published
            ? "generation \(result.generation)  (\(result.files_read) files read, \(History.size(result.bytes_added)) added, \(String(format: "%.2f", result.seconds)) s)"
            : "generation \(result.generation)  (unchanged)")
    }
}

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a stopped workspace's whole state back as a generation holds it.",
        discussion: """
            /workspace and every change to the root filesystem are replaced; the result is committed as a new \
            generation, so nothing in the history is lost and a rollback can itself be rolled back. Stop the \
            workspace first; start it afterwards.
            """)
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
    @Option(help: "The generation to go back to (see hearth history)") var generation: UInt64
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let result = try await withClientErrors {
            try await Terminal.progress("rolling \(workspace) back to generation \(generation)") { try await c.rollback(workspace, to: generation) }
        }
        if json { return try Terminal.printJSON(result) }
        print("rolled back to generation \(generation): now generation \(result.generation)")
    }
}

struct Fork: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a new workspace whose whole state is a generation of another.",
        discussion: "Without --generation, the workspace's state is committed now and the fork starts from that.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name to fork") var workspace: String
    @Option(help: "The generation to start from (see hearth history)") var generation: UInt64?
    @Option(help: "The new workspace's name") var name: String?
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let forked = try await withClientErrors {
            try await Terminal.progress("forking \(workspace)") { try await c.fork(workspace, generation: generation, name: name) }
        }
        if json { return try Terminal.printJSON(forked) }
        print("\(forked.id)  \(forked.name)  \(forked.state)")
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the generations of a workspace's state in the store.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
    @Flag(help: "Print JSON") var json = false

    func run() async throws {
        let c = try client.client()
        let all = try await withClientErrors { try await c.generations(workspace) }
        if json { return try Terminal.printJSON(all) }
        let format = ISO8601DateFormatter()
        print("GEN    CREATED                TRIGGER   FILES    SIZE       ADDED")
        for g in all {
            print([String(g.generation).padding(toLength: 6, withPad: " ", startingAt: 0),
                   format.string(from: g.created_at).padding(toLength: 22, withPad: " ", startingAt: 0),
                   (g.trigger ?? "-").padding(toLength: 9, withPad: " ", startingAt: 0),
                   String(g.files).padding(toLength: 8, withPad: " ", startingAt: 0),
                   Self.size(g.bytes).padding(toLength: 10, withPad: " ", startingAt: 0),
                   Self.size(g.bytes_added)].joined(separator: " "))
        }
    }

    static func size(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

struct RestoreFile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-file",
        abstract: "Put one file back as a generation of the workspace's state holds it.",
        discussion: "The workspace must be running; the file is read from the store and written back with its mode.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
    @Option(help: "The generation to take the file from (see hearth history)") var generation: UInt64
    @Argument(help: "Path of the file inside the workspace, e.g. /workspace/notes.txt") var path: String

    func run() async throws {
        let c = try client.client()
        let bytes = try await withClientErrors { try await c.restoreFile(workspace, generation: generation, path: path) }
        print("restored \(path) from generation \(generation) (\(History.size(UInt64(bytes))))")
    }
}
