import ArgumentParser
import Foundation
import HearthStore
import HearthStoreS3

struct VolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume",
        abstract: "Durable volumes: commit a directory (files and SQLite) as encrypted generations to an object store.",
        discussion: """
            Stores: file:///abs/path, or s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:8333&region=us-east-1 with \
            AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Every command needs a KEK (--kek-file or HEARTH_KEK_FILE); \
            losing it makes the volumes it wraps unreadable.
            """,
        subcommands: [VolumeKeygen.self, VolumeCommit.self, VolumeLog.self, VolumeRestore.self, VolumeVerify.self, VolumeDiff.self,
                      VolumeFork.self, VolumeRollback.self, VolumeGC.self, VolumeRekey.self, VolumeWatch.self, VolumeSync.self,
                      VolumeBenchmark.self])
}

struct VolumeOptions: ParsableArguments {
    @Option(help: "Store URL: file:///abs/path or s3://BUCKET/PREFIX?endpoint=URL&region=R")
    var store: String
    @Option(help: "Volume name")
    var volume: String
    @Option(name: .customLong("kek-file"), help: "Key-encryption key file (default: $HEARTH_KEK_FILE)")
    var kekFile: String?

    /// `workspace.` names belong to the server's workspaces (`KeyHierarchy`): its start-up sweep
    /// removes such a volume when no workspace key record names it, so an operator's volume there
    /// would be deleted.
    func validate() throws {
        if volume.hasPrefix("workspace.") {
            throw ValidationError("volume names starting with \"workspace.\" are reserved for the server's workspaces")
        }
    }

    func kek() throws -> KeyEncryptionKey {
        guard let file = kekFile ?? ProcessInfo.processInfo.environment["HEARTH_KEK_FILE"], !file.isEmpty else {
            throw StoreError(.noKey, "no KEK: pass --kek-file FILE or set HEARTH_KEK_FILE (make one with `hearth volume keygen --out FILE`)")
        }
        return try KeyEncryptionKey.load(file: file)
    }

    func open() async throws -> Volume {
        let kek = try kek()
        return try await Volume.open(store: try await StoreURL.open(store, environment: ProcessInfo.processInfo.environment), name: volume, kek: kek)
    }

    var cacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.cache"
        return URL(fileURLWithPath: base + "/hearth/volumes")
    }
}

/// Runs a store command: a `StoreError` becomes its message on stderr and exit code 1.
func withStoreErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as StoreError {
        Terminal.error("hearth: \(error.message)")
        // The internal detail (object keys, HTTP answers, errno) only on request.
        if let detail = error.detail, ProcessInfo.processInfo.environment["HEARTH_DEBUG"] != nil { Terminal.error("hearth: detail: \(detail)") }
        throw ExitCode(1)
    }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct VolumeKeygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keygen", abstract: "Write a new key-encryption key (mode 0600).")
    @Option(help: "File to create; an existing file is never overwritten") var out: String

    func run() async throws {
        try await withStoreErrors {
            try KeyEncryptionKey.write(.generate(), to: out)
            Terminal.error("wrote a new KEK to \(out); keep a copy: without it the volumes it protects cannot be read")
        }
    }
}

struct VolumeCommit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commit", abstract: "Commit DIR as the volume's next generation.")
    @Argument(help: "Directory to commit") var directory: String
    @OptionGroup var options: VolumeOptions
    @Flag(help: "Print the result as JSON") var json = false

    func run() async throws {
        try await withStoreErrors {
            let kek = try options.kek()
            let volume = try await Volume.openOrCreate(store: try await StoreURL.open(options.store, environment: ProcessInfo.processInfo.environment), name: options.volume, kek: kek)
            let writer = VolumeWriter(volume: volume)
            try await writer.acquire()
            let meter = ProgressMeter(label: "committing")
            let result: CommitResult
            do {
                result = try await writer.commit(directory: URL(fileURLWithPath: directory),
                                                 options: CommitOptions(cacheDirectory: options.cacheDirectory, onProgress: { meter.update(files: $0.files, bytes: $0.bytes) }))
                meter.finish()
                try await writer.release()
            } catch {
                meter.finish()
                try? await writer.release()
                throw error
            }
            if json { try printJSON(result) } else {
                print("generation \(result.generation): \(result.files) files, \(formatBytes(result.bytes)), \(formatBytes(result.bytesNew)) new, \(result.databases) databases")
            }
        }
    }
}

struct VolumeLog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "List the volume's generations.")
    @OptionGroup var options: VolumeOptions
    @Flag(help: "Print JSON lines") var json = false

    func run() async throws {
        try await withStoreErrors {
            let volume = try await options.open()
            for number in try await volume.generationNumbers() {
                let generation = try await volume.generation(number)
                if json { try printJSON(generation); continue }
                let state = generation.pruned == true ? "pruned" : generation.reason.rawValue
                let source = generation.source.map { " from \($0)" } ?? ""
                print("\(number)\t\(ISO8601DateFormatter().string(from: generation.createdAt))\t\(state)\(source)\tepoch \(generation.epoch)\t\(generation.files) files\t\(formatBytes(generation.bytes))\t\(generation.databases.count) db")
            }
        }
    }
}

struct VolumeRestore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a generation into a new or empty directory.",
        discussion: "Without --generation, restores the head; if the head is damaged, says so and falls back to the newest good generation.")
    @OptionGroup var options: VolumeOptions
    @Option(help: "Generation (default: the head)") var generation: UInt64?
    @Option(help: "Target directory") var to: String
    @Flag(help: "Print the result as JSON") var json = false

    func run() async throws {
        try await withStoreErrors {
            let volume = try await options.open()
            let target = URL(fileURLWithPath: to)
            var candidates: [UInt64]
            if let generation { candidates = [generation] } else { candidates = Array(try await volume.generationNumbers().reversed()) }
            if candidates.isEmpty { throw StoreError(.notFound, "volume \(options.volume) has no generations yet") }
            while let number = candidates.first {
                candidates.removeFirst()
                let meter = ProgressMeter(label: "restoring generation \(number)")
                do {
                    let result = try await volume.restore(generation: number, to: target, onProgress: { done, total in meter.update(bytes: done, of: total) })
                    meter.finish()
                    if json { try printJSON(result) } else { print("restored generation \(result.generation): \(result.files) files, \(formatBytes(result.bytes))") }
                    return
                } catch let error as StoreError where generation == nil && (error.code == .damaged || error.message.contains("removed by retention")) {
                    meter.finish()
                    if error.code == .damaged { Terminal.error("hearth: generation \(number) is damaged (\(error.message)); trying the one before") }
                    if candidates.isEmpty { throw StoreError(.damaged, "no generation of \(options.volume) could be restored intact") }
                }
            }
        }
    }
}

struct VolumeVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check every chunk, tree and database; name what is damaged.")
    @OptionGroup var options: VolumeOptions
    @Option(help: "Only this generation (default: every kept generation)") var generation: UInt64?
    @Flag(help: "Print the report as JSON") var json = false

    func run() async throws {
        let report = try await withStoreErrors { try await options.open().verify(generation: generation) }
        if json { try printJSON(report) } else {
            for line in report.damage { print("damaged: \(line)") }
            print("\(report.isHealthy ? "ok" : "DAMAGED"): \(report.generations.count) generations, \(report.trees) trees, \(report.chunks) chunks in \(report.packs) packs, \(report.databases) databases checked")
        }
        if !report.isHealthy { throw ExitCode(2) }
    }
}

struct VolumeDiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "What changed between generations A and B.")
    @OptionGroup var options: VolumeOptions
    @Argument var a: UInt64
    @Argument var b: UInt64
    @Flag(help: "Print JSON lines") var json = false

    func run() async throws {
        try await withStoreErrors {
            for change in try await options.open().diff(a, b) {
                if json { try printJSON(change) } else { print("\(change.kind.rawValue) \(change.path)") }
            }
        }
    }
}

struct VolumeFork: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fork", abstract: "Make a new volume from a generation, sharing its chunks.")
    @OptionGroup var options: VolumeOptions
    @Option(help: "Generation (default: the head)") var generation: UInt64?
    @Option(help: "Name of the new volume") var to: String

    func run() async throws {
        try await withStoreErrors {
            let volume = try await options.open()
            _ = try await volume.fork(generation: generation, to: to, kek: try options.kek())
            print("forked \(options.volume)@\(generation.map(String.init) ?? "head") to \(to)")
        }
    }
}

struct VolumeRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Make generation N the head again, as a new generation.")
    @OptionGroup var options: VolumeOptions
    @Option(help: "Generation to roll back to") var generation: UInt64

    func run() async throws {
        try await withStoreErrors {
            let writer = VolumeWriter(volume: try await options.open())
            try await writer.acquire()
            do {
                let result = try await writer.rollback(to: generation)
                try await writer.release()
                print("generation \(result.generation) restores generation \(generation)")
            } catch {
                try? await writer.release()
                throw error
            }
        }
    }
}

struct VolumeGC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Apply retention and delete what no kept generation reaches.",
        discussion: "Unreachable packs are condemned first and deleted by a later run once --grace has passed; safe while a commit runs.")
    @OptionGroup var options: VolumeOptions
    @Option(name: .customLong("keep-last")) var keepLast: Int?
    @Option(name: .customLong("keep-hourly")) var keepHourly: Int?
    @Option(name: .customLong("keep-daily")) var keepDaily: Int?
    @Option(help: "Seconds a pack stays condemned (and a new pack stays untouched) before deletion") var grace: Double = 3600
    @Flag(help: "Print the result as JSON") var json = false

    func run() async throws {
        try await withStoreErrors {
            let result = try await options.open().collectGarbage(retention: RetentionPolicy(keepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily), grace: grace)
            if json { try printJSON(result) } else {
                print("pruned \(result.pruned.count) generations, kept \(result.kept.count); packs: \(result.packsCondemned) condemned, \(result.packsDeleted) deleted (\(formatBytes(UInt64(result.bytesDeleted)))), \(result.packsKept) kept")
            }
        }
    }
}

struct VolumeRekey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rekey", abstract: "Rewrap the volume's data key under a new KEK; no pack is rewritten.")
    @OptionGroup var options: VolumeOptions
    @Option(name: .customLong("new-kek-file")) var newKEKFile: String

    func run() async throws {
        try await withStoreErrors {
            try await options.open().rewrap(to: try KeyEncryptionKey.load(file: newKEKFile))
            print("volume \(options.volume) is now wrapped by the KEK in \(newKEKFile)")
        }
    }
}

func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// A one-line progress display on a terminal; silent when stderr is not one.
final class ProgressMeter: @unchecked Sendable {
    private let label: String
    private let lock = NSLock()
    private var last = Date.distantPast
    private var shown = false

    init(label: String) { self.label = label }

    func update(files: Int, bytes: UInt64) { show("\(files) files, \(formatBytes(bytes))") }
    func update(bytes: UInt64, of total: UInt64) { show("\(formatBytes(bytes)) of \(formatBytes(total))") }

    private func show(_ text: String) {
        guard Terminal.stderrIsTTY else { return }
        lock.lock(); defer { lock.unlock() }
        guard Date().timeIntervalSince(last) > 0.2 else { return }
        last = Date()
        shown = true
        FileHandle.standardError.write(Data("\r\(label): \(text)\u{1B}[K".utf8))
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
