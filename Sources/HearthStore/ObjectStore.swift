public import Foundation

/// How a write is conditioned. These are the only primitives the engine needs for correctness:
/// create-only-if-absent publishes generations and fences writers, compare-and-swap guards the lease.
public enum WriteCondition: Sendable, Equatable {
    case always
    case ifAbsent
    case ifMatch(String)
}

public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int
    public var etag: String
    public var modified: Date

    public init(key: String, size: Int, etag: String, modified: Date) {
        self.key = key
        self.size = size
        self.etag = etag
        self.modified = modified
    }
}

public struct StoredObject: Sendable {
    public var bytes: [UInt8]
    private let knownETag: String?
    private let etagOf: (@Sendable ([UInt8]) -> String)?

    public init(bytes: [UInt8], etag: String) {
        self.bytes = bytes
        self.knownETag = etag
        self.etagOf = nil
    }

    /// An etag a store derives from the bytes (the local store hashes them), computed only if asked
    /// for: a restore reads every pack and never compares one.
    public init(bytes: [UInt8], etagOf: @escaping @Sendable ([UInt8]) -> String) {
        self.bytes = bytes
        self.knownETag = nil
        self.etagOf = etagOf
    }

    public var etag: String { knownETag ?? etagOf?(bytes) ?? "" }
}

/// A flat key space of immutable-or-conditionally-replaced objects: a local directory or an S3 bucket.
/// Keys use `/` separators and never start with one.
public protocol ObjectStore: Sendable {
    /// A human-readable location, for messages.
    var location: String { get }
    /// Returns the new etag. Throws `.conflict` when the condition fails.
    @discardableResult
    func put(_ key: String, _ bytes: [UInt8], condition: WriteCondition) async throws -> String
    /// Writes an object that is never replaced conditionally (a pack, an index, a WAL segment): a
    /// `put` with `.always` whose etag nobody needs, so a store may skip computing it.
    func putImmutable(_ key: String, _ bytes: [UInt8]) async throws
    /// Throws `.notFound` when absent.
    func get(_ key: String) async throws -> StoredObject
    /// Bytes `range` of the object. Throws `.notFound` when absent.
    func get(_ key: String, range: Range<Int>) async throws -> [UInt8]
    func head(_ key: String) async throws -> ObjectInfo?
    /// Every object whose key starts with `prefix`, sorted by key.
    func list(prefix: String) async throws -> [ObjectInfo]
    /// Deleting an absent object is not an error. With `ifMatch`, throws `.conflict` when it changed.
    func delete(_ key: String, ifMatch: String?) async throws
}

extension ObjectStore {
    public func delete(_ key: String) async throws { try await delete(key, ifMatch: nil) }

    public func putImmutable(_ key: String, _ bytes: [UInt8]) async throws { try await put(key, bytes, condition: .always) }
}
