public import Foundation
public import Logging
public import ServiceLifecycle
public import Synchronization

public struct WatchOptions: Sendable {
    /// How often the whole tree is committed.
    public var interval: Duration
    /// How often databases' logs are checked and shipped; a shipped transaction is durable one
    /// WAL generation later.
    public var shipInterval: Duration
    public var cacheDirectory: URL?
    /// The shipper checkpoints a database once this much of its log is shipped.
    public var checkpointBytes: Int

    public init(interval: Duration = .seconds(60), shipInterval: Duration = .milliseconds(200), cacheDirectory: URL? = nil,
                checkpointBytes: Int = 4 << 20) {
        self.interval = interval
        self.shipInterval = shipInterval
        self.cacheDirectory = cacheDirectory
        self.checkpointBytes = checkpointBytes
    }
}

/// Keeps a directory committed: the whole tree on an interval and on every `sync`, its SQLite
/// databases continuously through WAL shippers. One task (`run`) does all publishing, so commits,
/// WAL generations and syncs never interleave; `sync` only queues a request and waits for the
/// commit that starts after it.
///
/// States: running → draining (cancelled: one last commit, then the lease is released) → stopped.
public actor VolumeWatcher: DatabaseSource, Service {
    public let writer: VolumeWriter
    public let directory: URL
    let options: WatchOptions
    let logger: Logger
    private var shippers: [String: DatabaseShipper] = [:]
    private var capturedInCommit: Set<String> = []
    private var waitingSyncs: [CheckedContinuation<UInt64, any Error>] = []
    private var sleeper: (token: Int, continuation: CheckedContinuation<Void, Never>)?
    private var sleepToken = 0
    private var commitDue = true
    private var stopped: (any Error)?
    private var stopping = false
    public private(set) var lastCommit: CommitResult?
    public private(set) var walGenerations = 0

    public init(writer: VolumeWriter, directory: URL, options: WatchOptions = WatchOptions(), logger: Logger = Logger(label: "hearth.volume.watch")) {
        self.writer = writer
        self.directory = directory
        self.options = options
        self.logger = logger
    }

    /// Returns once everything written under the directory before the call is in a published
    /// generation, and that generation's number.
    public func sync() async throws -> UInt64 {
        if let stopped { throw stopped }
        return try await withCheckedThrowingContinuation { continuation in
            waitingSyncs.append(continuation)
            wake(sleepToken)
        }
    }

    /// Runs until graceful shutdown, cancellation or fencing. On the way out of the first two it
    /// commits once more and releases the lease, so the next writer starts from everything written here.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.watch()
        } onGracefulShutdown: {
            Task { await self.stop() }
        }
    }

    /// Asks the watcher to drain and stop, as a graceful shutdown does.
    public func stop() {
        stopping = true
        wake(sleepToken)
    }

    private func watch() async throws {
        var nextCommit = ContinuousClock.now
        defer { failWaiting(stopped ?? StoreError(.unavailable, "the watcher stopped")) }
        while !Task.isCancelled && !stopping {
            let full = commitDue || !waitingSyncs.isEmpty || ContinuousClock.now >= nextCommit
            do {
                if full {
                    commitDue = false
                    nextCommit = ContinuousClock.now + options.interval
                    try await commitTree()
                } else {
                    _ = try await writer.renewIfDue()
                    try await shipDatabases()
                }
            } catch let error as StoreError where error.code == .fenced {
                stopped = error
                throw error
            } catch {
                // A failed commit is retried at the next tick; failed shipping at the next ship.
                logger.warning(full ? "commit failed; retrying" : "shipping failed; retrying",
                               metadata: ["volume.name": "\(writer.volume.name)", "error": "\(error)"])
                if full { commitDue = true }
            }
            // A failed commit waits one tick too: retrying at once spun on a full local disk.
            if waitingSyncs.isEmpty && !stopping { await sleep(for: options.shipInterval) }
        }
        // Draining: a last commit so a planned handoff loses nothing, then the lease goes.
        try await commitTree()
        try await writer.release()
        stopped = StoreError(.unavailable, "the watcher stopped")
    }

    private func commitTree() async throws {
        let waiting = waitingSyncs
        waitingSyncs = []
        capturedInCommit = []
        var commitOptions = CommitOptions(cacheDirectory: options.cacheDirectory)
        commitOptions.databaseSource = self
        commitOptions.skipIfUnchanged = true
        do {
            let result = try await writer.commit(directory: directory, options: commitOptions)
            lastCommit = result
            for gone in Set(shippers.keys).subtracting(capturedInCommit) { shippers[gone] = nil }
            for continuation in waiting { continuation.resume(returning: result.generation) }
            logger.debug("committed", metadata: ["volume.name": "\(writer.volume.name)", "generation": "\(result.generation)", "bytes_new": "\(result.bytesNew)"])
        } catch {
            for continuation in waiting { continuation.resume(throwing: error) }
            throw error
        }
    }

    private func shipDatabases() async throws {
        var moving: [DatabaseShipper] = []
        for shipper in shippers.values where await shipper.hasNewLog() { moving.append(shipper) }
        guard !moving.isEmpty else { return }
        let shipping = moving
        let failed = Mutex<[String]>([])
        let generation = try await writer.publishDatabases { sink in
            var captured: [CapturedDatabase] = []
            for shipper in shipping {
                do {
                    captured.append(try await shipper.capture(sink: sink))
                } catch {
                    failed.withLock { $0.append(shipper.relativePath) }
                }
            }
            return captured.isEmpty ? nil : captured
        }
        // A database that could not be shipped (removed, replaced) is picked up again by a full commit.
        for path in failed.withLock({ $0 }) { shippers[path] = nil; commitDue = true }
        if generation != nil { walGenerations += 1 }
    }

    public nonisolated func capture(relativePath: String, absolutePath: String, sink: BlobSink) async throws -> CapturedDatabase {
        try await shipper(relativePath: relativePath, absolutePath: absolutePath).capture(sink: sink)
    }

    private func shipper(relativePath: String, absolutePath: String) throws -> DatabaseShipper {
        capturedInCommit.insert(relativePath)
        if let existing = shippers[relativePath] { return existing }
        let shipper = try DatabaseShipper(path: absolutePath, relativePath: relativePath, checkpointBytes: options.checkpointBytes)
        shippers[relativePath] = shipper
        return shipper
    }

    private func sleep(for duration: Duration) async {
        sleepToken += 1
        let token = sleepToken
        Task { [weak self] in
            try? await Task.sleep(for: duration)
            await self?.wake(token)
        }
        await withCheckedContinuation { continuation in sleeper = (token, continuation) }
    }

    private func wake(_ token: Int) {
        guard let sleeper, sleeper.token == token else { return }
        self.sleeper = nil
        sleeper.continuation.resume()
    }

    private func failWaiting(_ error: any Error) {
        let waiting = waitingSyncs
        waitingSyncs = []
        for continuation in waiting { continuation.resume(throwing: error) }
    }
}
