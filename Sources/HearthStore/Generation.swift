import Crypto
public import Foundation

/// One published state of a volume. Generations are numbered 1, 2, 3… with no gaps; each is written
/// with create-only-if-absent after every pack and index it needs, so the highest number is the head
/// and a crash before the publish leaves the previous head intact.
public struct Generation: Codable, Sendable, Equatable {
    public enum Reason: String, Codable, Sendable {
        case commit
        /// Written by a writer that took over a lease that was not released, into the next slot,
        /// so a stale writer's next publish collides with a newer epoch and stops.
        case fence
        case rollback
        case fork
        /// Only databases moved: the tree is the parent's, the databases carry newer WAL segments.
        case wal
    }

    public struct Database: Codable, Sendable, Equatable {
        /// Path inside the tree, `/`-separated.
        public var path: String
        public var pageSize: Int
        public var pageCount: Int
        /// What pins the consistent image, checked again on restore: `chunks:` and the SHA-256 of
        /// its chunk ids in order (each chunk is checked against its id as it is read, so the list
        /// pins every byte without hashing the image a second time), or, in generations written
        /// before that, the SHA-256 of the image itself.
        public var sha256: String
        /// WAL segments shipped since that image, replayed on it in order.
        public var wal: [BlobID]? = nil
        public var walFrames: Int? = nil
        /// The size in pages after the last shipped transaction.
        public var pages: Int? = nil
        /// The image's chunks when they are not the tree entry's: a WAL generation reuses its
        /// parent's tree, but its shipper may have taken a newer image since.
        public var base: [BlobID]? = nil

        /// The chunks of the image a restore starts from, given the tree entry's.
        func imageChunks(treeChunks: [BlobID]) -> [BlobID] { base ?? treeChunks }
    }

    public var volume: String
    public var generation: UInt64
    public var parent: UInt64?
    public var epoch: UInt64
    public var root: BlobID
    public var createdAt: Date
    public var writer: String
    public var reason: Reason
    public var files: Int
    public var bytes: UInt64
    public var bytesNew: UInt64
    public var databases: [Database]
    /// For a rollback, the generation whose tree this one restores; for a fork, the origin.
    public var source: String?
    /// Set when retention removed this generation. The slot stays occupied so no writer can reuse it.
    public var pruned: Bool?
    /// For a workspace's commit, what ran it (`interval`, `sync`, `pause`, `stop`).
    public var trigger: String? = nil

    static func context(volume: String, generation: UInt64) -> String { "hearth-generation:\(volume):\(generation)" }

    func sealed(with key: DataKey) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return try key.seal(Array(try encoder.encode(self)), context: Self.context(volume: volume, generation: generation))
    }

    static func open(_ sealed: [UInt8], volume: String, generation: UInt64, key: DataKey) throws -> Generation {
        let plain = try key.open(sealed, context: context(volume: volume, generation: generation))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            let value = try decoder.decode(Generation.self, from: Data(plain))
            guard value.volume == volume, value.generation == generation else {
                throw StoreError(.damaged, "generation \(generation) names another slot")
            }
            return value
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.damaged, "generation \(generation) does not decode", detail: "\(error)")
        }
    }
}

extension Generation.Database {
    static let chunkDigestPrefix = "chunks:"

    /// The `sha256` of an image made of `chunks`, in order.
    static func imageDigest(chunks: [BlobID]) -> String {
        var hasher = SHA256()
        for chunk in chunks { hasher.update(data: chunk.bytes) }
        return chunkDigestPrefix + Hex.string(hasher.finalize())
    }
}
