import CZstd
import CompressNIO
import Crypto
import NIOCore
import Synchronization

/// Blobs are sealed one by one and concatenated into packs of several MiB, so that small files do not
/// cost one PUT each and a restore can fetch a single blob with a range read. A pack ends with a
/// sealed header listing its blobs, so indexes can be rebuilt from packs alone.
///
///     sealed blob … sealed blob | sealed header | u32 header length | "HPK1"
public enum BlobKind: UInt8, Sendable, Codable {
    case data = 1
    case tree = 2
}

public struct BlobLocation: Sendable, Equatable {
    public var pack: String
    public var offset: Int
    public var length: Int
    public var rawLength: Int
}

enum PackFormat {
    static let magic: [UInt8] = Array("HPK1".utf8)
    static let targetSize = 16 * 1024 * 1024
    static let headerContext = "hearth-pack-header"

    static func blobContext(_ id: BlobID) -> String { "hearth-blob:" + id.hex }
    /// No blob is larger: chunks are at most `FastCDC.maximum`; a WAL segment's length is a u32.
    static let maximumRawLength = Int(UInt32.max)

    /// Compresses (zstd) when a quick sample says it pays: incompressible data (media, archives,
    /// random blobs) costs one 32 KiB trial instead of a full pass. Flag byte: 0 stored, 1 deflate
    /// (read only: packs written before zstd), 2 zstd.
    static func encode(_ plain: UnsafeRawBufferPointer) -> [UInt8] {
        if plain.count >= 512, let compressed = zstdIfSmaller(plain) { return compressed }
        var out = [UInt8](repeating: 0, count: plain.count + 1)
        out.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: 1).copyMemory(from: plain.baseAddress!, byteCount: plain.count) }
        return out
    }

    static func decode(_ encoded: [UInt8], rawLength: Int) throws -> [UInt8] {
        guard let flag = encoded.first else { throw StoreError(.damaged, "empty blob") }
        // `rawLength` may come from outside the authenticated bytes (a WAL segment's prefix), so it
        // is checked against what the sealed bytes themselves say before anything is allocated.
        guard rawLength >= 0, rawLength <= maximumRawLength else { throw StoreError(.damaged, "blob has an impossible length") }
        switch flag {
        case 0:
            guard encoded.count - 1 == rawLength else { throw StoreError(.damaged, "blob has the wrong length") }
            return Array(encoded.dropFirst())
        case 1:
            var buffer = ByteBuffer(bytes: encoded.dropFirst())
            do {
                var out = try buffer.decompress(with: .deflate(), maxSize: rawLength + 1)
                guard out.readableBytes == rawLength else { throw StoreError(.damaged, "blob has the wrong length") }
                return out.readBytes(length: out.readableBytes) ?? []
            } catch let error as StoreError { throw error } catch {
                throw StoreError(.damaged, "blob does not decompress", detail: "\(error)")
            }
        case 2:
            // The frame header inside the sealed bytes records the content size (one-shot
            // compression always writes it): it must agree before the output is allocated.
            let declared = encoded.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress! + 1, $0.count - 1) }
            guard declared == UInt64(rawLength) else { throw StoreError(.damaged, "blob has the wrong length") }
            var out = [UInt8](repeating: 0, count: rawLength)
            let written = encoded.withUnsafeBytes { source in
                out.withUnsafeMutableBytes { ZSTD_decompress($0.baseAddress, rawLength, source.baseAddress! + 1, source.count - 1) }
            }
            guard ZSTD_isError(written) == 0 else {
                throw StoreError(.damaged, "blob does not decompress", detail: String(cString: ZSTD_getErrorName(written)))
            }
            guard written == rawLength else { throw StoreError(.damaged, "blob has the wrong length") }
            return out
        default: throw StoreError(.damaged, "blob has an unknown encoding")
        }
    }

    /// zstd level 1: restic's default class of speed, at a better ratio than deflate's fastest.
    private static func zstdIfSmaller(_ plain: UnsafeRawBufferPointer) -> [UInt8]? {
        let sample = UnsafeRawBufferPointer(rebasing: plain[0..<min(plain.count, 32 * 1024)])
        if sample.count < plain.count, zstd(sample, limit: sample.count * 8 / 10) == nil { return nil }
        return zstd(plain, limit: plain.count * 9 / 10)
    }

    /// Flag byte and frame, or nil when the frame would not be smaller than `limit`.
    private static func zstd(_ plain: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 2, count: 1 + ZSTD_compressBound(plain.count))
        let written = ZstdContexts.shared.with { context in
            out.withUnsafeMutableBytes { ZSTD_compressCCtx(context, $0.baseAddress! + 1, $0.count - 1, plain.baseAddress, plain.count, 1) }
        }
        guard ZSTD_isError(written) == 0, written < limit else { return nil }
        out.removeLast(out.count - 1 - written)
        return out
    }
}

struct PackBuilder {
    struct Entry { var kind: BlobKind; var id: BlobID; var offset: Int; var length: Int; var rawLength: Int }
    var bytes: [UInt8] = []
    var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    mutating func append(kind: BlobKind, id: BlobID, sealed: [UInt8], rawLength: Int) {
        entries.append(Entry(kind: kind, id: id, offset: bytes.count, length: sealed.count, rawLength: rawLength))
        bytes.append(contentsOf: sealed)
    }

    /// The finished pack and its content address.
    mutating func finish(key: DataKey) throws -> (id: String, bytes: [UInt8], entries: [Entry]) {
        var header: [UInt8] = []
        header.appendInteger(UInt32(entries.count))
        for entry in entries {
            header.append(entry.kind.rawValue)
            header.append(contentsOf: entry.id.bytes)
            header.appendInteger(UInt32(entry.offset))
            header.appendInteger(UInt32(entry.length))
            header.appendInteger(UInt32(entry.rawLength))
        }
        let sealedHeader = try key.seal(header, context: PackFormat.headerContext)
        var out = bytes
        out.append(contentsOf: sealedHeader)
        out.appendInteger(UInt32(sealedHeader.count))
        out.append(contentsOf: PackFormat.magic)
        let id = Hex.string(SHA256.hash(data: out))
        return (id, out, entries)
    }

    /// Reads a whole pack's header back (used by verify and to rebuild indexes).
    static func readHeader(_ pack: [UInt8], key: DataKey) throws -> [Entry] {
        guard pack.count >= 8, Array(pack.suffix(4)) == PackFormat.magic else { throw StoreError(.damaged, "pack trailer is missing") }
        var lengthReader = ByteReader(Array(pack[(pack.count - 8)..<(pack.count - 4)]))
        let headerLength = Int(try lengthReader.integer(UInt32.self))
        guard headerLength <= pack.count - 8 else { throw StoreError(.damaged, "pack header length is out of range") }
        let headerStart = pack.count - 8 - headerLength
        var reader = ByteReader(try key.open(Array(pack[headerStart..<(pack.count - 8)]), context: PackFormat.headerContext))
        let count = Int(try reader.integer(UInt32.self))
        var entries: [Entry] = []
        for _ in 0..<count {
            guard let kind = BlobKind(rawValue: try reader.byte()) else { throw StoreError(.damaged, "pack header has an unknown blob kind") }
            let id = BlobID(bytes: try reader.take(32))!
            let entry = Entry(kind: kind, id: id, offset: Int(try reader.integer(UInt32.self)),
                              length: Int(try reader.integer(UInt32.self)), rawLength: Int(try reader.integer(UInt32.self)))
            guard entry.offset + entry.length <= headerStart else { throw StoreError(.damaged, "pack header points past the blobs") }
            entries.append(entry)
        }
        return entries
    }
}

extension DataKey {
    /// Seals a blob for a pack: encode (maybe compress), then AES-GCM bound to the blob's id.
    func sealBlob(_ plain: UnsafeRawBufferPointer, id: BlobID) throws -> [UInt8] {
        try seal(PackFormat.encode(plain), context: PackFormat.blobContext(id))
    }

    /// Opens a blob and re-hashes it: what comes back is exactly what was committed, or an error.
    func openBlob(_ sealed: [UInt8], id: BlobID, rawLength: Int) throws -> [UInt8] {
        let plain = try PackFormat.decode(try open(sealed, context: PackFormat.blobContext(id)), rawLength: rawLength)
        guard BlobID(hashing: plain) == id else { throw StoreError(.damaged, "blob \(id) does not match its hash") }
        return plain
    }
}

/// Reused zstd compression contexts: creating one per blob costs more than compressing a small file.
final class ZstdContexts: Sendable {
    static let shared = ZstdContexts()
    /// A context is used by one thread at a time, between being taken and put back.
    private struct Context: @unchecked Sendable { let pointer: OpaquePointer }
    private let idle = Mutex<[Context]>([])

    func with<T>(_ body: (OpaquePointer) -> T) -> T {
        let context = idle.withLock { $0.popLast() } ?? Context(pointer: ZSTD_createCCtx()!)
        defer { idle.withLock { $0.append(context) } }
        return body(context.pointer)
    }
}
