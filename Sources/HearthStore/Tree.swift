/// One directory of a generation's file tree, in a canonical binary encoding: entries sorted by the raw
/// bytes of their names, no duplicates. Equal directories therefore encode to equal bytes and get equal
/// ids, so an unchanged subtree is shared between generations and skipped by diff and verify.
public struct Tree: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case file = 1
        case directory = 2
        case symlink = 3
        /// A SQLite database, stored as one consistent image taken inside a read transaction.
        case sqlite = 4
        /// An overlay whiteout (a 0/0 character device in an upper layer): the image's entry of that
        /// name is deleted. Kept so that a restored layer does not bring deleted files back.
        case whiteout = 5
    }

    public struct Entry: Sendable, Equatable {
        /// Raw bytes: names need not be UTF-8.
        public var name: [UInt8]
        public var kind: Kind
        public var mode: UInt32
        public var size: UInt64
        public var mtimeNanoseconds: Int64
        public var symlinkTarget: [UInt8] = []
        public var chunks: [BlobID] = []
        public var subtree: BlobID? = nil
        /// Owner and group; nil in trees written before they were kept (format `HTR1`).
        public var uid: UInt32? = nil
        public var gid: UInt32? = nil
        /// A directory that hides the lower layers' entries of the same path (overlay "opaque").
        public var opaque = false

        public var displayName: String { String(decoding: name, as: UTF8.self) }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// `HTR1`: no owner or flags. `HTR2` adds uid, gid and a flags byte after the mtime of each
    /// entry. Both decode; new trees are written as `HTR2`.
    static let magicV1: [UInt8] = Array("HTR1".utf8)
    static let magic: [UInt8] = Array("HTR2".utf8)
    static let opaqueFlag: UInt8 = 1

    public func encoded() -> [UInt8] {
        var out = Self.magic
        out.appendInteger(UInt32(entries.count))
        for entry in entries {
            out.appendInteger(UInt16(entry.name.count))
            out.append(contentsOf: entry.name)
            out.append(entry.kind.rawValue)
            out.appendInteger(entry.mode)
            out.appendInteger(entry.size)
            out.appendInteger(UInt64(bitPattern: entry.mtimeNanoseconds))
            out.appendInteger(entry.uid ?? 0)
            out.appendInteger(entry.gid ?? 0)
            out.append(entry.opaque ? Self.opaqueFlag : 0)
            switch entry.kind {
            case .symlink:
                out.appendInteger(UInt32(entry.symlinkTarget.count))
                out.append(contentsOf: entry.symlinkTarget)
            case .file, .sqlite:
                out.appendInteger(UInt32(entry.chunks.count))
                for chunk in entry.chunks { out.append(contentsOf: chunk.bytes) }
            case .directory:
                out.append(contentsOf: entry.subtree!.bytes)
            case .whiteout:
                break
            }
        }
        return out
    }

    /// Decodes and validates. Anything out of order, duplicated, truncated or trailing is `.damaged`.
    public init(decoding bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        let header = try reader.take(4)
        guard header == Self.magic || header == Self.magicV1 else { throw StoreError(.damaged, "tree has a bad header") }
        let hasOwners = header == Self.magic
        let count = Int(try reader.integer(UInt32.self))
        var entries: [Entry] = []
        entries.reserveCapacity(min(count, 1 << 16))
        for _ in 0..<count {
            let name = try reader.take(Int(try reader.integer(UInt16.self)))
            guard Self.isValidName(name) else { throw StoreError(.damaged, "tree has an invalid entry name") }
            if let last = entries.last, !last.name.lexicographicallyPrecedes(name) {
                throw StoreError(.damaged, "tree entries are not strictly ordered")
            }
            guard let kind = Kind(rawValue: try reader.byte()) else { throw StoreError(.damaged, "tree has an unknown entry kind") }
            var entry = Entry(name: name, kind: kind, mode: try reader.integer(UInt32.self), size: try reader.integer(UInt64.self),
                              mtimeNanoseconds: Int64(bitPattern: try reader.integer(UInt64.self)))
            if hasOwners {
                entry.uid = try reader.integer(UInt32.self)
                entry.gid = try reader.integer(UInt32.self)
                let flags = try reader.byte()
                guard flags & ~Self.opaqueFlag == 0, flags == 0 || kind == .directory else { throw StoreError(.damaged, "tree has unknown entry flags") }
                entry.opaque = flags & Self.opaqueFlag != 0
            }
            switch kind {
            case .symlink:
                entry.symlinkTarget = try reader.take(Int(try reader.integer(UInt32.self)))
            case .file, .sqlite:
                let chunkCount = Int(try reader.integer(UInt32.self))
                guard chunkCount <= reader.remaining / 32 else { throw StoreError(.damaged, "tree is truncated") }
                entry.chunks = try (0..<chunkCount).map { _ in BlobID(bytes: try reader.take(32))! }
            case .directory:
                entry.subtree = BlobID(bytes: try reader.take(32))!
            case .whiteout:
                break
            }
            entries.append(entry)
        }
        guard reader.remaining == 0 else { throw StoreError(.damaged, "tree has trailing bytes") }
        self.entries = entries
    }

    public static func isValidName(_ name: [UInt8]) -> Bool {
        !name.isEmpty && name.count <= 4096 && !name.contains(0) && !name.contains(UInt8(ascii: "/"))
            && name != [UInt8(ascii: ".")] && name != [UInt8(ascii: "."), UInt8(ascii: ".")]
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw StoreError(.damaged, "object is truncated") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func byte() throws -> UInt8 { try take(1)[0] }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let raw = try take(MemoryLayout<T>.size)
        var value: T = 0
        for byte in raw.reversed() { value = value << 8 | T(byte) }
        return value
    }
}

extension Array where Element == UInt8 {
    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
