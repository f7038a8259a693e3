public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension VolumeWriter {
    /// Commits `directory` as the next generation. Order, as in restic: packs, then the index that
    /// names them, then a lease renewal, then the generation, published only if its slot is free. A
    /// crash anywhere before the publish leaves only unreferenced objects, which GC removes.
    public func commit(directory: URL, options: CommitOptions = CommitOptions()) async throws -> CommitResult {
        try checkClock()
        let started = Date()
        let (known, condemned) = try await usableIndex()
        let onStep = options.onStep
        let uploader = PackUploader(volume: volume, index: known) { try onStep?(.packUploaded) }
        let cacheURL = options.cacheDirectory.map { StatCache.file(directory: $0, store: volume.store.location, volume: volume.name) }
        var committer = TreeCommitter(key: volume.key, chunker: FastCDC(seed: volume.key.chunkerSeed), uploader: uploader,
                                      previous: cacheURL.map(StatCache.load) ?? StatCache(), concurrency: options.concurrency,
                                      counters: TreeCommitter.Counters(), limiter: AsyncSemaphore(permits: options.concurrency), onProgress: options.onProgress)
        committer.databaseSource = options.databaseSource
        committer.volume = volume
        committer.guestTree = options.guestTree
        committer.limits = options.limits
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StoreError(.invalidArgument, "\(directory.path) is not a directory")
        }
        committer.root = try TreeScanner.openRoot(directory.path)
        defer { close(committer.root) }
        guard let root = try await committer.commitDirectory(path: Array(directory.path.utf8), relative: [])?.id else {
            throw StoreError(.invalidArgument, "\(directory.path) is not a directory")
        }
        try await writeIndex(for: uploader, onStep: onStep)
        try await checkNoneCondemned(since: condemned)
        let counters = committer.counters.values.withLock { $0 }
        let databases = counters.databases.sorted { $0.path < $1.path }
        let uploaded = await uploader.uploaded
        let bytesNew = await uploader.bytesNew
        if options.skipIfUnchanged, uploaded.isEmpty, let head = try await headGeneration(), head.root == root, head.databases == databases {
            _ = try await renewIfDue()
            if let cacheURL { StatCache(entries: counters.cache).save(cacheURL) }
            return CommitResult(generation: head.generation, files: counters.files, directories: counters.directories, bytes: counters.bytes,
                                bytesNew: 0, chunksNew: 0, packs: 0, databases: databases.count, filesRead: counters.filesRead,
                                seconds: Date().timeIntervalSince(started), published: false)
        }

        try await renew()
        try onStep?(.leaseRenewed)

        let generation = try await publish { number, parent, epoch in
            Generation(volume: volume.name, generation: number, parent: parent, epoch: epoch, root: root, createdAt: clock.now(),
                       writer: identity, reason: .commit, files: counters.files, bytes: counters.bytes, bytesNew: bytesNew,
                       databases: databases, source: nil, pruned: nil, trigger: options.trigger)
        }
        try onStep?(.generationPublished)
        if let cacheURL { StatCache(entries: counters.cache).save(cacheURL) }
        return CommitResult(generation: generation.generation, files: counters.files, directories: counters.directories,
                            bytes: counters.bytes, bytesNew: bytesNew, chunksNew: await uploader.blobsNew, packs: uploaded.count,
                            databases: counters.databases.count, filesRead: counters.filesRead, seconds: Date().timeIntervalSince(started))
    }
}

extension VolumeWriter {
    /// The index to dedupe against, without packs GC has condemned (they may be deleted before this
    /// commit publishes), and the condemned set, to notice packs condemned during the commit.
    func usableIndex() async throws -> (BlobIndex, condemned: Set<String>) {
        let condemned = try await volume.condemnedPacks()
        if index == nil { index = try await volume.loadIndex() }
        index!.remove(packs: condemned)
        return (index!, condemned)
    }

    /// Flushes the uploader's packs and writes the index that names them.
    func writeIndex(for uploader: PackUploader, onStep: (@Sendable (CommitStep) throws -> Void)?) async throws {
        try await uploader.flush()
        let uploaded = await uploader.uploaded
        if !uploaded.isEmpty {
            let sealed = try volume.key.seal(BlobIndex.encode(uploaded), context: BlobIndex.context)
            let name = BlobID(hashing: sealed).hex
            try await volume.store.putImmutable(StoreLayout.index(volume.family, name), sealed)
            try onStep?(.indexWritten)
        }
        index = await uploader.index()
    }

    /// GC may have condemned a pack this commit reuses after the index was loaded. Publishing would
    /// then point at data about to be deleted, so stop; the retry uploads it again.
    func checkNoneCondemned(since condemned: Set<String>) async throws {
        let nowCondemned = try await volume.condemnedPacks().subtracting(condemned)
        if !nowCondemned.isEmpty {
            index!.remove(packs: nowCondemned)
            throw StoreError(.conflict, "garbage collection ran during the commit; commit again")
        }
    }
}
