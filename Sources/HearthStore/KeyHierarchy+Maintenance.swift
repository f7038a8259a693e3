import Foundation

/// What `sweep` removed.
public struct KeySweepReport: Sendable, Equatable {
    /// Workspace records whose tenant key no longer exists (a tenant delete cut short).
    public var deadRecords: [String] = []
    /// Workspace volumes whose key record is gone (a workspace delete cut short).
    public var orphanVolumes: [String] = []
}

/// What `rotate` did.
public struct KeyRotationReport: Sendable, Equatable {
    /// Tenant keys resealed under the new KEK.
    public var tenants = 0
    /// Tenant keys already sealed under the new KEK (a rotation resumed after an interruption).
    public var alreadyRotated = 0
    /// Volumes of `hearth volume` whose data key the old KEK wrapped directly, rewrapped.
    public var volumes = 0
}

extension KeyHierarchy {
    /// Opens every tenant record with this KEK, so a server given the wrong KEK (or a new one after
    /// `DATA/kek` was lost) refuses to start with a clear error instead of failing each workspace.
    /// Returns the tenant keys' fingerprints.
    @discardableResult
    public func checkKEK() async throws -> Set<String> {
        var fingerprints: Set<String> = []
        for object in try await store.list(prefix: StoreLayout.tenantKeys) {
            let tenant = String(object.key.dropFirst(StoreLayout.tenantKeys.count))
            // An object no tenant id could name is never read by the hierarchy: not a key of it.
            guard (try? Self.validate(id: tenant, kind: "tenant")) != nil,
                  let key = try await readRecord(object.key, sealer: kek, what: "tenant \(tenant)'s key", sealerName: "the KEK") else { continue }
            fingerprints.insert(key.fingerprint)
        }
        return fingerprints
    }

    /// The key hierarchy's garbage collection: finishes deletes a crash cut short. A workspace record
    /// sealed by no existing tenant key is deleted with its volume; a `workspace.W` volume with no
    /// record of W is removed. Nothing is removed unless every tenant record opened with this KEK.
    public func sweep() async throws -> KeySweepReport {
        var report = KeySweepReport()
        // Workspace records are listed before tenant records: a tenant made after this listing can
        // only own workspaces this listing does not hold, so none of them is mistaken for dead.
        let records = try await store.list(prefix: StoreLayout.workspaceKeys)
        let tenants = try await checkKEK()
        for object in records {
            let workspace = String(object.key.dropFirst(StoreLayout.workspaceKeys.count))
            guard (try? Self.validate(id: workspace, kind: "workspace")) != nil,
                  let bytes = try? await store.get(object.key).bytes,
                  // A record that does not parse is kept: it may be evidence, and it opens nothing.
                  let record = try? KeyRecord.parse(bytes, objectKey: object.key),
                  !tenants.contains(record.sealerFingerprint) else { continue }
            try await deleteWorkspace(workspace)
            report.deadRecords.append(workspace)
        }
        for object in try await store.list(prefix: "volumes/\(Self.volumePrefix)") where object.key.hasSuffix("/key.json") {
            let parts = object.key.split(separator: "/")
            guard parts.count == 3 else { continue }
            let volume = String(parts[1])
            let workspace = String(volume.dropFirst(Self.volumePrefix.count))
            guard (try? Self.validate(id: workspace, kind: "workspace")) != nil,
                  try await store.head(StoreLayout.workspaceKey(workspace)) == nil else { continue }
            try await removeVolume(volume)
            report.orphanVolumes.append(workspace)
        }
        return report
    }

    /// Reseals every tenant key under `new` (and rewraps every `hearth volume` data key the old KEK
    /// wrapped directly); workspace records and data are untouched. Every record is opened with `old`
    /// before anything is written, so a wrong `old` changes nothing. A record already under `new`
    /// is skipped, so an interrupted rotation is finished by running it again.
    public static func rotate(store: any ObjectStore, from old: KeyEncryptionKey, to new: KeyEncryptionKey) async throws -> KeyRotationReport {
        guard old.fingerprint != new.fingerprint else {
            throw StoreError(.invalidArgument, "the old and the new KEK are the same key")
        }
        var report = KeyRotationReport()
        var pending: [(name: String, key: KeyEncryptionKey, etag: String)] = []
        for object in try await store.list(prefix: StoreLayout.tenantKeys) {
            let tenant = String(object.key.dropFirst(StoreLayout.tenantKeys.count))
            guard (try? KeyHierarchy.validate(id: tenant, kind: "tenant")) != nil else { continue }
            let stored = try await store.get(object.key)
            let record = try KeyRecord.parse(stored.bytes, objectKey: object.key)
            if record.sealerFingerprint == new.fingerprint { report.alreadyRotated += 1; continue }
            let key = try record.open(with: old, objectKey: object.key, what: "tenant \(tenant)'s key", sealerName: "the old KEK")
            pending.append((name: object.key, key: key, etag: stored.etag))
        }
        var volumes: [Volume] = []
        for object in try await store.list(prefix: "volumes/") where object.key.hasSuffix("/key.json") {
            let parts = object.key.split(separator: "/")
            guard parts.count == 3 else { continue }
            let file = try Volume.decodeKeyFile(try await store.get(object.key).bytes, volume: String(parts[1]))
            guard file.kekFingerprint == old.fingerprint else { continue }
            volumes.append(try await Volume.open(store: store, name: String(parts[1]), kek: old))
        }
        for (name, key, etag) in pending {
            try await store.put(name, try KeyRecord.seal(key, under: new, objectKey: name), condition: .ifMatch(etag))
            report.tenants += 1
        }
        for volume in volumes {
            try await volume.rewrap(to: new)
            report.volumes += 1
        }
        return report
    }
}
