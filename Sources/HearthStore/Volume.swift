import Foundation

/// A volume opened for reading: its key, its family's pack space and its generations.
/// Writing goes through `VolumeWriter`, which adds the lease.
public struct Volume: Sendable {
    public let store: any ObjectStore
    public let name: String
    public let family: String
    let key: DataKey
    let keyFile: WrappedKeyFile

    /// Opens an existing volume. A wrong KEK and a missing volume are distinct, named errors.
    public static func open(store: any ObjectStore, name: String, kek: KeyEncryptionKey) async throws -> Volume {
        try StoreLayout.validate(volume: name)
        let object: StoredObject
        do {
            object = try await store.get(StoreLayout.keyFile(name))
        } catch let error as StoreError where error.code == .notFound {
            throw StoreError(.notFound, "volume \(name) does not exist in \(store.location)")
        }
        let file = try decodeKeyFile(object.bytes, volume: name)
        return Volume(store: store, name: name, family: file.family, key: try file.unwrap(with: kek, volume: name), keyFile: file)
    }

    /// Opens the volume, creating it (with a new data key and family) if it does not exist yet.
    public static func openOrCreate(store: any ObjectStore, name: String, kek: KeyEncryptionKey) async throws -> Volume {
        do {
            return try await open(store: store, name: name, kek: kek)
        } catch let error as StoreError where error.code == .notFound {
            let dataKey = DataKey.generate()
            let family = UUID().uuidString.lowercased()
            let file = try WrappedKeyFile.wrap(dataKey, family: family, kek: kek)
            do {
                try await store.put(StoreLayout.keyFile(name), encodeKeyFile(file), condition: .ifAbsent)
            } catch let error as StoreError where error.code == .conflict {
                // Another process created it first: use theirs.
                return try await open(store: store, name: name, kek: kek)
            }
            return Volume(store: store, name: name, family: family, key: dataKey, keyFile: file)
        }
    }

    static func decodeKeyFile(_ bytes: [UInt8], volume: String) throws -> WrappedKeyFile {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(WrappedKeyFile.self, from: Data(bytes)) } catch {
            throw StoreError(.damaged, "the key file of volume \(volume) does not decode", detail: "\(error)")
        }
    }

    static func encodeKeyFile(_ file: WrappedKeyFile) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try encoder.encode(file))
    }

    /// Rewraps the data key under a new KEK. Packs are untouched; the old KEK stops working for this volume.
    public func rewrap(to newKEK: KeyEncryptionKey) async throws {
        let current = try await store.get(StoreLayout.keyFile(name))
        var file = try WrappedKeyFile.wrap(key, family: family, kek: newKEK, forkedFrom: keyFile.forkedFrom)
        file.createdAt = keyFile.createdAt
        try await store.put(StoreLayout.keyFile(name), Self.encodeKeyFile(file), condition: .ifMatch(current.etag))
    }

    /// Every generation number present, ascending (pruned ones included: their slots stay taken).
    public func generationNumbers() async throws -> [UInt64] {
        try await store.list(prefix: StoreLayout.generations(name)).compactMap { StoreLayout.generationNumber(fromKey: $0.key) }.sorted()
    }

    public func generation(_ number: UInt64) async throws -> Generation {
        let object: StoredObject
        do {
            object = try await store.get(StoreLayout.generation(name, number))
        } catch let error as StoreError where error.code == .notFound {
            throw StoreError(.notFound, "volume \(name) has no generation \(number)")
        }
        return try Generation.open(object.bytes, volume: name, generation: number, key: key)
    }

    /// The newest generation, or nil for a volume with none. Refuses a store whose newest
    /// generations were deleted (see `HeadAnchor`).
    public func head() async throws -> Generation? {
        guard let last = try await checkedGenerationNumbers().last else { return nil }
        return try await generation(last)
    }

    /// Loads every index of the family, skipping packs GC has condemned.
    func loadIndex(excludingCondemned: Bool = true) async throws -> BlobIndex {
        var index = BlobIndex()
        let objects = try await store.list(prefix: StoreLayout.indexes(family))
        for object in objects {
            let sealed = try await store.get(object.key).bytes
            let packs = try BlobIndex.decode(try key.open(sealed, context: BlobIndex.context))
            for pack in packs { index.add(pack: pack.id, entries: pack.entries) }
        }
        if excludingCondemned { index.remove(packs: try await condemnedPacks()) }
        return index
    }

    func condemnedPacks() async throws -> Set<String> {
        Set(try await store.list(prefix: StoreLayout.condemned(family)).map { StoreLayout.packID(fromKey: $0.key) })
    }

    /// Stores a WAL segment as its own object: length, then the blob sealed to its id.
    func writeSegment(_ bytes: [UInt8]) async throws -> BlobID {
        let id = BlobID(hashing: bytes)
        var object = withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { Array($0) }
        object += try bytes.withUnsafeBytes { try key.sealBlob($0, id: id) }
        try await store.putImmutable(StoreLayout.walSegment(family, id), object)
        return id
    }

    /// Reads a WAL segment back, re-hashed: exactly what was shipped, or an error.
    func readSegment(_ id: BlobID) async throws -> [UInt8] {
        let object: [UInt8]
        do { object = try await store.get(StoreLayout.walSegment(family, id)).bytes } catch let error as StoreError where error.code == .notFound {
            throw StoreError(.damaged, "WAL segment \(id) is missing")
        }
        guard object.count > 4 else { throw StoreError(.damaged, "WAL segment \(id) is truncated") }
        let rawLength = Int(SQLiteWAL.be32(object, 0))
        return try key.openBlob(Array(object[4...]), id: id, rawLength: rawLength)
    }

    func readBlob(_ id: BlobID, index: BlobIndex) async throws -> [UInt8] {
        guard let location = index.location(of: id) else { throw StoreError(.damaged, "blob \(id) is in no index") }
        let sealed: [UInt8]
        do {
            sealed = try await store.get(StoreLayout.pack(family, location.pack), range: location.offset..<(location.offset + location.length))
        } catch let error as StoreError where error.code == .notFound {
            throw StoreError(.damaged, "pack \(location.pack.prefix(12)) holding blob \(id) is missing")
        }
        return try key.openBlob(sealed, id: id, rawLength: location.rawLength)
    }

    func tree(_ id: BlobID, index: BlobIndex) async throws -> Tree {
        try Tree(decoding: try await readBlob(id, index: index))
    }
}
