import ArgumentParser
import Foundation
import HearthStore
import HearthStoreS3
import Logging
import ServiceLifecycle
import UnixSignals

struct VolumeWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Keep DIR committed: every file on an interval, SQLite databases continuously, and on each `sync`.",
        discussion: """
            Holds the volume's lease while it runs. SQLite databases in WAL mode are shipped frame by frame within a \
            second of each commit; the shipper owns their checkpoints. `hearth volume sync --socket PATH` returns once \
            everything written before it is in a published generation. SIGINT or SIGTERM commits once more and \
            releases the lease, so another machine can take over without losing anything.
            """)
    @Argument(help: "Directory to watch") var directory: String
    @OptionGroup var options: VolumeOptions
    @Option(help: "Seconds between commits of the whole tree") var interval: Double = 60
    @Option(help: "Sync socket (default: ~/.cache/hearth/volumes/VOLUME.sock)") var socket: String?
    @Option(name: .customLong("lease-seconds"), help: "How long the lease lasts unrenewed; after that another writer may take over and this one stops")
    var leaseSeconds: Double = 30

    func run() async throws {
        try await withStoreErrors {
            guard interval > 0 else { throw StoreError(.invalidArgument, "--interval must be more than 0 seconds") }
            guard leaseSeconds >= 1 else { throw StoreError(.invalidArgument, "--lease-seconds must be at least 1") }
            let kek = try options.kek()
            let volume = try await Volume.openOrCreate(store: try await StoreURL.open(options.store, environment: ProcessInfo.processInfo.environment), name: options.volume, kek: kek)
            // The writer renews every third of the TTL and stops if it could not renew with this
            // margin left, so the margin must stay well under a third.
            let writer = VolumeWriter(volume: volume, policy: LeasePolicy(ttl: leaseSeconds, safetyMargin: min(2, leaseSeconds / 6)))
            try await writer.acquire()
            var logger = Logger(label: "hearth.volume.watch")
            logger.logLevel = ProcessInfo.processInfo.environment["HEARTH_DEBUG"] != nil ? .debug : .info
            try FileManager.default.createDirectory(at: options.cacheDirectory, withIntermediateDirectories: true)
            let socketPath = socket ?? options.cacheDirectory.appendingPathComponent("\(options.volume).sock").path
            let watcher = VolumeWatcher(writer: writer, directory: URL(fileURLWithPath: directory),
                                        options: WatchOptions(interval: .milliseconds(Int64(interval * 1000)), cacheDirectory: options.cacheDirectory),
                                        logger: logger)
            let socketService = SyncSocketService(path: socketPath) { try await watcher.sync() }
            // Services stop in reverse order: the socket closes first, then the watcher drains.
            let group = ServiceGroup(configuration: .init(services: [.init(service: watcher), .init(service: socketService)],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            Terminal.error("watching \(directory) into \(options.volume); sync socket \(socketPath)")
            do {
                try await group.run()
            } catch let error as ServiceGroupError {
                throw StoreError(.io, "the watcher stopped", detail: "\(error)")
            }
            if let last = await watcher.lastCommit { Terminal.error("stopped after generation \(last.generation); lease released") }
        }
    }
}

struct VolumeSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Wait until everything written before now is durable in the store; print the generation.")
    @Option(help: "The watcher's sync socket") var socket: String
    @Flag(help: "Print the result as JSON") var json = false

    func run() async throws {
        try await withStoreErrors {
            let started = ContinuousClock.now
            let generation = try await SyncSocket.request(path: socket)
            let elapsed = ContinuousClock.now - started
            if json {
                let millis = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                print("{\"generation\":\(generation),\"milliseconds\":\(String(format: "%.2f", millis))}")
            } else {
                print("generation \(generation)")
            }
        }
    }
}
