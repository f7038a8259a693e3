/// Which pack holds each blob. Each commit writes one index object for the packs it uploaded, after the
/// packs and before the generation; a reader merges them all.
struct BlobIndex: Sendable {
    struct Located: Sendable { var kind: BlobKind; var location: BlobLocation }
    private(set) var blobs: [BlobID: Located] = [:]
    private(set) var packs: Set<String> = []

    func location(of id: BlobID) -> BlobLocation? { blobs[id]?.location }
    func contains(_ id: BlobID) -> Bool { blobs[id] != nil }

    mutating func add(pack: String, entries: [PackBuilder.Entry]) {
        packs.insert(pack)
        for entry in entries where blobs[entry.id] == nil {
            blobs[entry.id] = Located(kind: entry.kind, location: BlobLocation(pack: pack, offset: entry.offset, length: entry.length, rawLength: entry.rawLength))
        }
    }

    /// Forgets every blob stored in one of `packs` (condemned by GC), so a commit re-uploads them.
    mutating func remove(packs condemned: Set<String>) {
        guard !condemned.isEmpty else { return }
        blobs = blobs.filter { !condemned.contains($0.value.location.pack) }
        packs.subtract(condemned)
    }

    static let context = "hearth-index"

    static func encode(_ packs: [(id: String, entries: [PackBuilder.Entry])]) -> [UInt8] {
        var out: [UInt8] = Array("HIX1".utf8)
        out.appendInteger(UInt32(packs.count))
        for pack in packs {
            let id = Array(pack.id.utf8)
            out.appendInteger(UInt16(id.count))
            out.append(contentsOf: id)
            out.appendInteger(UInt32(pack.entries.count))
            for entry in pack.entries {
                out.append(entry.kind.rawValue)
                out.append(contentsOf: entry.id.bytes)
                out.appendInteger(UInt32(entry.offset))
                out.appendInteger(UInt32(entry.length))
                out.appendInteger(UInt32(entry.rawLength))
            }
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws -> [(id: String, entries: [PackBuilder.Entry])] {
        var reader = ByteReader(bytes)
        guard try reader.take(4) == Array("HIX1".utf8) else { throw StoreError(.damaged, "index has a bad header") }
        var packs: [(id: String, entries: [PackBuilder.Entry])] = []
        for _ in 0..<Int(try reader.integer(UInt32.self)) {
            let id = String(decoding: try reader.take(Int(try reader.integer(UInt16.self))), as: UTF8.self)
            var entries: [PackBuilder.Entry] = []
            for _ in 0..<Int(try reader.integer(UInt32.self)) {
                guard let kind = BlobKind(rawValue: try reader.byte()) else { throw StoreError(.damaged, "index has an unknown blob kind") }
                entries.append(PackBuilder.Entry(kind: kind, id: BlobID(bytes: try reader.take(32))!, offset: Int(try reader.integer(UInt32.self)),
                                                 length: Int(try reader.integer(UInt32.self)), rawLength: Int(try reader.integer(UInt32.self))))
            }
            packs.append((id, entries))
        }
        return packs
    }
}
