import Crypto
import Foundation

/// The server's envelope keys (issue 16): the KEK (a file, never in the store) seals one key per
/// tenant, and each tenant's key seals one key per workspace, which wraps the data key of the
/// workspace's volume (`workspace.W`, the engine's own `key.json`). Every record is a small
/// object in the store (`KeyRecord`), bound to its name.
///
/// Deleting a workspace deletes its key record first: from then on nothing in the store, and no
/// KEK, opens what remains of its volume, which the delete (or a later `sweep`) removes.
public struct KeyHierarchy: Sendable {
    public let store: any ObjectStore
    let kek: KeyEncryptionKey

    public init(store: any ObjectStore, kek: KeyEncryptionKey) {
        self.store = store
        self.kek = kek
    }

    /// Tenant and workspace ids come from the control plane but name objects in the store, so they
    /// are held to a set with no separator, no dot (hence no `..`) and a bound.
    public static func validate(id: String, kind: String) throws {
        let allowed = id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        guard allowed, !id.isEmpty, id.utf8.count <= 64 else {
            throw StoreError(.invalidArgument, "invalid \(kind) id: use 1 to 64 of A-Z a-z 0-9 _ -", detail: String(id.prefix(80)))
        }
    }

    /// The volume holding workspace `id`'s files. The prefix keeps workspaces' volumes apart from the
    /// operator's own (`hearth volume`) in a shared store, and tells `sweep` which ones it may collect.
    public static func volumeName(workspace id: String) -> String { volumePrefix + id }
    /// Where tenant key records live: a store with any is already sealed by some KEK.
    public static var tenantKeyPrefix: String { StoreLayout.tenantKeys }
    static let volumePrefix = "workspace."

    // MARK: Tenants

    /// Tenant `id`'s key, made and stored (create-if-absent, so two creators agree) when `create`.
    func tenantKey(_ id: String, create: Bool) async throws -> KeyEncryptionKey {
        try Self.validate(id: id, kind: "tenant")
        let name = StoreLayout.tenantKey(id)
        if let key = try await readRecord(name, sealer: kek, what: "tenant \(id)'s key", sealerName: "the KEK") { return key }
        guard create else { throw StoreError(.notFound, "tenant \(id) has no key in \(store.location)") }
        let fresh = KeyEncryptionKey.generate()
        do {
            try await store.put(name, try KeyRecord.seal(fresh, under: kek, objectKey: name), condition: .ifAbsent)
            return fresh
        } catch let error as StoreError where error.code == .conflict {
            return try await tenantKey(id, create: false)
        }
    }

    /// Deletes tenant `id`'s key record, after crypto-shredding each of its workspaces (found by the
    /// tenant key's fingerprint on their records). The record goes last, so a crash part way leaves
    /// a tenant whose remaining workspaces a retry still finds.
    public func deleteTenant(_ id: String) async throws {
        try Self.validate(id: id, kind: "tenant")
        let tenant: KeyEncryptionKey
        do { tenant = try await tenantKey(id, create: false) } catch let error as StoreError where error.code == .notFound { return }
        for object in try await store.list(prefix: StoreLayout.workspaceKeys) {
            let workspace = String(object.key.dropFirst(StoreLayout.workspaceKeys.count))
            guard (try? Self.validate(id: workspace, kind: "workspace")) != nil,
                  let bytes = try? await store.get(object.key).bytes,
                  let record = try? KeyRecord.parse(bytes, objectKey: object.key),
                  record.sealerFingerprint == tenant.fingerprint else { continue }
            try await deleteWorkspace(workspace)
        }
        try await store.delete(StoreLayout.tenantKey(id))
    }

    // MARK: Workspaces

    /// Makes workspace `id`'s key under its tenant's (and the tenant's, if it has none yet) and
    /// creates its empty volume. Calling it again opens the same volume.
    @discardableResult
    public func createWorkspace(_ id: String, tenant: String) async throws -> Volume {
        try Self.validate(id: id, kind: "workspace")
        let tenantKey = try await tenantKey(tenant, create: true)
        let name = StoreLayout.workspaceKey(id)
        let workspaceKey: KeyEncryptionKey
        if let existing = try await readRecord(name, sealer: tenantKey, what: "workspace \(id)'s key", sealerName: "tenant \(tenant)'s key") {
            workspaceKey = existing
        } else {
            let fresh = KeyEncryptionKey.generate()
            do {
                try await store.put(name, try KeyRecord.seal(fresh, under: tenantKey, objectKey: name), condition: .ifAbsent)
                workspaceKey = fresh
            } catch let error as StoreError where error.code == .conflict {
                return try await openWorkspace(id, tenant: tenant)
            }
        }
        return try await Volume.openOrCreate(store: store, name: Self.volumeName(workspace: id), kek: workspaceKey)
    }

    /// Opens workspace `id`'s volume through the KEK, its tenant's key and its own. A deleted
    /// workspace is `.notFound` whatever remains of its volume.
    public func openWorkspace(_ id: String, tenant: String) async throws -> Volume {
        try Self.validate(id: id, kind: "workspace")
        let tenantKey = try await tenantKey(tenant, create: false)
        let name = StoreLayout.workspaceKey(id)
        guard let workspaceKey = try await readRecord(name, sealer: tenantKey, what: "workspace \(id)'s key",
                                                      sealerName: "tenant \(tenant)'s key") else {
            throw StoreError(.notFound, "workspace \(id) has no key: it was deleted and its volume cannot be opened")
        }
        return try await Volume.open(store: store, name: Self.volumeName(workspace: id), kek: workspaceKey)
    }

    /// Crypto-shreds workspace `id`: its key record first (from that moment nothing opens its volume),
    /// then every object of its volume, and its family's packs unless another volume shares them.
    /// Deleting a workspace that has no key or no volume is not an error.
    public func deleteWorkspace(_ id: String) async throws {
        try Self.validate(id: id, kind: "workspace")
        try await store.delete(StoreLayout.workspaceKey(id))
        try await removeVolume(Self.volumeName(workspace: id))
    }

    /// Reads and opens one record; nil when it does not exist.
    func readRecord(_ name: String, sealer: KeyEncryptionKey, what: String, sealerName: String) async throws -> KeyEncryptionKey? {
        let bytes: [UInt8]
        do { bytes = try await store.get(name).bytes } catch let error as StoreError where error.code == .notFound { return nil }
        return try KeyRecord.parse(bytes, objectKey: name).open(with: sealer, objectKey: name, what: what, sealerName: sealerName)
    }

    /// Every object of volume `name`, then its family's if no other volume names that family. The
    /// volume's `key.json` goes last: until then it still says which family a retry must remove.
    func removeVolume(_ name: String) async throws {
        let keyFile = StoreLayout.keyFile(name)
        var family: String?
        if let bytes = try? await store.get(keyFile).bytes { family = (try? Volume.decodeKeyFile(bytes, volume: name))?.family }
        if let family, !family.isEmpty, !family.contains("/"), family != "..", family != "." {
            var shared = false
            for object in try await store.list(prefix: "volumes/") where object.key.hasSuffix("/key.json") && object.key != keyFile {
                guard let bytes = try? await store.get(object.key).bytes,
                      let other = try? Volume.decodeKeyFile(bytes, volume: object.key) else { continue }
                if other.family == family { shared = true; break }
            }
            if !shared {
                for object in try await store.list(prefix: "families/\(family)/") { try await store.delete(object.key) }
            }
        }
        for object in try await store.list(prefix: StoreLayout.volume(name)) where object.key != keyFile { try await store.delete(object.key) }
        try await store.delete(keyFile)
    }
}
