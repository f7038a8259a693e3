/// Collects new blobs into packs and uploads each pack as it fills. Blobs already indexed, or already
/// queued by another worker, are dropped here, which is where deduplication happens.
actor PackUploader {
    private let volume: Volume
    private var known: BlobIndex
    private var pending: Set<BlobID> = []
    private var builders: [BlobKind: PackBuilder] = [.data: PackBuilder(), .tree: PackBuilder()]
    private(set) var uploaded: [(id: String, entries: [PackBuilder.Entry])] = []
    private(set) var bytesNew: UInt64 = 0
    private(set) var blobsNew = 0
    private let onPackUploaded: @Sendable () throws -> Void

    init(volume: Volume, index: BlobIndex, onPackUploaded: @escaping @Sendable () throws -> Void) {
        self.volume = volume
        self.known = index
        self.onPackUploaded = onPackUploaded
    }

    func isStored(_ id: BlobID) -> Bool { known.contains(id) || pending.contains(id) }

    func areStored(_ ids: [BlobID]) -> Bool { ids.allSatisfy { known.contains($0) || pending.contains($0) } }

    /// Adds a sealed blob unless an equal one is stored or queued.
    func add(kind: BlobKind, id: BlobID, sealed: [UInt8], rawLength: Int) async throws {
        guard !isStored(id) else { return }
        pending.insert(id)
        bytesNew += UInt64(rawLength)
        blobsNew += 1
        builders[kind]!.append(kind: kind, id: id, sealed: sealed, rawLength: rawLength)
        if builders[kind]!.bytes.count >= PackFormat.targetSize { try await upload(kind) }
    }

    func flush() async throws {
        for kind in [BlobKind.data, .tree] where !builders[kind]!.isEmpty { try await upload(kind) }
    }

    private func upload(_ kind: BlobKind) async throws {
        // Swap the builder out before awaiting, so other workers keep filling a fresh one.
        var builder = builders[kind]!
        builders[kind] = PackBuilder()
        let pack = try builder.finish(key: volume.key)
        try await volume.store.putImmutable(StoreLayout.pack(volume.family, pack.id), pack.bytes)
        uploaded.append((pack.id, pack.entries))
        known.add(pack: pack.id, entries: pack.entries)
        try onPackUploaded()
    }

    func index() -> BlobIndex { known }
}
