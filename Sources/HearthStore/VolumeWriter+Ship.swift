import Foundation

extension VolumeWriter {
    /// Publishes a WAL generation: the head's tree, with databases moved on to what `capture` ships.
    /// Returns nil, publishing nothing, when `capture` returns nil or no database changed.
    public func publishDatabases(_ capture: @Sendable (BlobSink) async throws -> [CapturedDatabase]?) async throws -> Generation? {
        try checkClock()
        let (known, condemned) = try await usableIndex()
        guard let parent = try await headGeneration() else {
            throw StoreError(.invalidArgument, "volume \(volume.name) has no generation to ship databases onto; commit first")
        }
        let uploader = PackUploader(volume: volume, index: known) {}
        let committer = TreeCommitter(key: volume.key, chunker: FastCDC(seed: volume.key.chunkerSeed), uploader: uploader,
                                      previous: StatCache(), concurrency: 1, counters: TreeCommitter.Counters(), limiter: AsyncSemaphore(permits: 1), onProgress: nil)
        guard let captured = try await capture(committer.sink(volume: volume)), captured.contains(where: \.changed) else { return nil }
        try await writeIndex(for: uploader, onStep: nil)
        try await checkNoneCondemned(since: condemned)
        _ = try await renewIfDue()
        let shipped = Dictionary(captured.map { ($0.database.path, $0) }, uniquingKeysWith: { first, _ in first })
        var databases = parent.databases.map { database in
            guard var moved = shipped[database.path] else { return database }
            moved.database.base = moved.chunks
            return moved.database
        }
        databases.sort { $0.path < $1.path }
        let bytesNew = await uploader.bytesNew
        return try await publish { number, parentNumber, epoch in
            Generation(volume: volume.name, generation: number, parent: parentNumber, epoch: epoch, root: parent.root, createdAt: clock.now(),
                       writer: identity, reason: .wal, files: parent.files, bytes: parent.bytes, bytesNew: bytesNew,
                       databases: databases, source: nil, pruned: nil)
        }
    }
}
