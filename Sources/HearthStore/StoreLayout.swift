/// Where each object lives. Volumes that share a data key (a volume and its forks) form a family and
/// share one pack space, so a fork copies no data.
///
///     volumes/NAME/key.json                data key, wrapped by the KEK
///     volumes/NAME/lease.json              the writer lease (epoch, owner, expiry)
///     volumes/NAME/generations/%020d       sealed generations, created only if absent
///     families/F/packs/XX/ID               sealed packs of chunks or trees
///     families/F/index/ID                  sealed indexes: blob → (pack, offset, length)
///     families/F/condemned/ID              GC marks: a pack about to be deleted
///     families/F/wal/XX/ID                 sealed WAL segments, one object each, named by content
///     keys/tenants/T                       tenant T's key, sealed by the KEK (`KeyHierarchy`)
///     keys/workspaces/W                    workspace W's key, sealed by its tenant's key; it wraps
///                                          the data key of volume `workspace.W`
enum StoreLayout {
    static let tenantKeys = "keys/tenants/"
    static let workspaceKeys = "keys/workspaces/"
    static func tenantKey(_ tenant: String) -> String { tenantKeys + tenant }
    static func workspaceKey(_ workspace: String) -> String { workspaceKeys + workspace }

    static func volume(_ name: String) -> String { "volumes/\(name)/" }
    static func keyFile(_ name: String) -> String { "volumes/\(name)/key.json" }
    static func lease(_ name: String) -> String { "volumes/\(name)/lease.json" }
    static func generations(_ name: String) -> String { "volumes/\(name)/generations/" }
    static func generation(_ name: String, _ number: UInt64) -> String {
        let digits = String(number)
        return generations(name) + String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
    static func generationNumber(fromKey key: String) -> UInt64? {
        key.split(separator: "/").last.flatMap { UInt64($0) }
    }
    static func packs(_ family: String) -> String { "families/\(family)/packs/" }
    static func pack(_ family: String, _ id: String) -> String { "families/\(family)/packs/\(id.prefix(2))/\(id)" }
    static func indexes(_ family: String) -> String { "families/\(family)/index/" }
    static func index(_ family: String, _ id: String) -> String { "families/\(family)/index/\(id)" }
    static func condemned(_ family: String) -> String { "families/\(family)/condemned/" }
    static func condemned(_ family: String, _ packID: String) -> String { "families/\(family)/condemned/\(packID)" }
    static func walSegments(_ family: String) -> String { "families/\(family)/wal/" }
    static func walSegment(_ family: String, _ id: BlobID) -> String { "families/\(family)/wal/\(id.hex.prefix(2))/\(id.hex)" }
    static func packID(fromKey key: String) -> String { String(key.split(separator: "/").last ?? "") }

    /// Volume names are path components in every store, so they are restricted to a portable set.
    static func validate(volume name: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        guard allowed, !name.isEmpty, name.count <= 128, !name.hasPrefix(".") else {
            throw StoreError(.invalidArgument, "invalid volume name \"\(name)\": use 1 to 128 of A-Z a-z 0-9 . _ -, not starting with a dot")
        }
    }
}
