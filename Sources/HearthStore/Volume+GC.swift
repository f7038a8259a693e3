public import Foundation

public struct GCResult: Codable, Sendable {
    public var pruned: [UInt64]
    public var kept: [UInt64]
    public var packsCondemned: Int
    public var packsDeleted: Int
    public var bytesDeleted: Int
    public var packsKept: Int
    public var segmentsDeleted: Int = 0
}

extension Volume {
    /// Applies retention to this volume, then collects the family's unreachable packs in two phases.
    ///
    /// A generation that retention drops is overwritten with a tombstone, never deleted, so its slot
    /// cannot be reused by a stale writer. A pack that no kept generation of any volume in the family
    /// reaches is first condemned (a marker object); commits stop reusing it, and a commit that had
    /// already chosen to reuse it refuses to publish. Only a pack condemned at least `grace` ago and
    /// still unreachable is deleted, after a new index that leaves it out is written. Packs younger
    /// than `grace` are never condemned, so a commit's freshly uploaded packs are safe.
    public func collectGarbage(retention: RetentionPolicy, grace: TimeInterval = 3600, now: Date = Date()) async throws -> GCResult {
        // 1. Retention.
        var result = GCResult(pruned: [], kept: [], packsCondemned: 0, packsDeleted: 0, bytesDeleted: 0, packsKept: 0)
        var live: [(UInt64, Date)] = []
        for number in try await generationNumbers() {
            let generation = try await self.generation(number)
            if generation.pruned != true { live.append((number, generation.createdAt)) }
        }
        let keep = retention.kept(live)
        for (number, _) in live where !keep.contains(number) {
            let object = try await store.get(StoreLayout.generation(name, number))
            var tombstone = try Generation.open(object.bytes, volume: name, generation: number, key: key)
            tombstone.pruned = true
            tombstone.databases = []
            try await store.put(StoreLayout.generation(name, number), try tombstone.sealed(with: key), condition: .ifMatch(object.etag))
            result.pruned.append(number)
        }
        result.kept = keep.sorted()

        // 2. Reachability over every volume of the family.
        let index = try await loadIndex(excludingCondemned: false)
        var reachablePacks: Set<String> = []
        // WAL generations share their parent's tree, so each root is walked once.
        var walkedRoots: Set<BlobID> = []
        var reachableSegments: Set<BlobID> = []
        for member in try await familyMembers() {
            for number in try await member.generationNumbers() {
                let generation = try await member.generation(number)
                guard generation.pruned != true else { continue }
                for database in generation.databases {
                    for blob in database.base ?? [] { if let pack = index.location(of: blob)?.pack { reachablePacks.insert(pack) } }
                    reachableSegments.formUnion(database.wal ?? [])
                }
                guard walkedRoots.insert(generation.root).inserted else { continue }
                try await member.walk(generation.root, index: index, visitTree: { _, id in
                    if let pack = index.location(of: id)?.pack { reachablePacks.insert(pack) }
                }) { _, entry in
                    for chunk in entry.chunks { if let pack = index.location(of: chunk)?.pack { reachablePacks.insert(pack) } }
                }
            }
        }

        // 3. Condemn, pardon, delete.
        let packs = try await store.list(prefix: StoreLayout.packs(family))
        var markers: [String: Date] = [:]
        for marker in try await store.list(prefix: StoreLayout.condemned(family)) { markers[StoreLayout.packID(fromKey: marker.key)] = marker.modified }
        var deleted: Set<String> = []
        for pack in packs {
            let id = StoreLayout.packID(fromKey: pack.key)
            if reachablePacks.contains(id) {
                result.packsKept += 1
                if markers[id] != nil { try await store.delete(StoreLayout.condemned(family, id)) }
            } else if let marked = markers[id] {
                if now.timeIntervalSince(marked) >= grace { deleted.insert(id); result.bytesDeleted += pack.size }
            } else if now.timeIntervalSince(pack.modified) >= grace {
                try await store.put(StoreLayout.condemned(family, id), [], condition: .always)
                result.packsCondemned += 1
            } else {
                result.packsKept += 1
            }
        }
        // WAL segments are single objects: one no retained generation names, and older than the
        // grace period (so not one an in-flight WAL generation just wrote), goes at once.
        for segment in try await store.list(prefix: StoreLayout.walSegments(family)) {
            guard let id = BlobID(hex: StoreLayout.packID(fromKey: segment.key)), !reachableSegments.contains(id),
                  now.timeIntervalSince(segment.modified) >= grace else { continue }
            try await store.delete(segment.key)
            result.segmentsDeleted += 1
            result.bytesDeleted += segment.size
        }
        guard !deleted.isEmpty else { return result }
        // Index first, then packs: a crash in between leaves packs no index names, which the next
        // run finds by listing and deletes.
        let oldIndexes = try await store.list(prefix: StoreLayout.indexes(family))
        var surviving: [(id: String, entries: [PackBuilder.Entry])] = []
        for object in oldIndexes {
            let packsInIndex = try BlobIndex.decode(try key.open(try await store.get(object.key).bytes, context: BlobIndex.context))
            surviving.append(contentsOf: packsInIndex.filter { !deleted.contains($0.id) })
        }
        let sealed = try key.seal(BlobIndex.encode(surviving), context: BlobIndex.context)
        let newIndex = StoreLayout.index(family, BlobID(hashing: sealed).hex)
        try await store.putImmutable(newIndex, sealed)
        for object in oldIndexes where object.key != newIndex { try await store.delete(object.key) }
        for id in deleted {
            try await store.delete(StoreLayout.pack(family, id))
            try await store.delete(StoreLayout.condemned(family, id))
            result.packsDeleted += 1
        }
        return result
    }

    /// Every volume sharing this one's family (itself included).
    func familyMembers() async throws -> [Volume] {
        var members: [Volume] = []
        for object in try await store.list(prefix: "volumes/") where object.key.hasSuffix("/key.json") {
            let parts = object.key.split(separator: "/")
            guard parts.count == 3 else { continue }
            let memberName = String(parts[1])
            let file = try Self.decodeKeyFile(try await store.get(object.key).bytes, volume: memberName)
            guard file.family == family else { continue }
            members.append(Volume(store: store, name: memberName, family: family, key: key, keyFile: file))
        }
        return members
    }
}
