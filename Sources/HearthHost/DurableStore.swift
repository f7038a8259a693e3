import Foundation
public import HearthControlPlane
import HearthCore
public import HearthStore
import HearthStoreS3
public import Logging

/// Where the server keeps workspaces' volumes and which KEK opens them (`hearth serve --store URL
/// --kek-file FILE`). Only the composition root reads files and URLs; the server is handed the
/// resulting `WorkspaceVolumes`.
public struct DurableStoreConfiguration: Sendable {
    public var dataDirectory: String
    /// `file:///abs/path` or `s3://BUCKET/PREFIX?endpoint=…`; nil is `file://DATA/store`.
    public var storeURL: String?
    /// The KEK; nil is `DATA/kek`, written (0600, never overwritten) when it does not exist yet.
    public var kekFile: String?

    public init(dataDirectory: String, storeURL: String? = nil, kekFile: String? = nil) {
        self.dataDirectory = dataDirectory
        self.storeURL = storeURL
        self.kekFile = kekFile
    }

    public var resolvedStoreURL: String { storeURL ?? "file://" + dataDirectory + "/store" }
    public var defaultKEKFile: String { dataDirectory + "/kek" }
}

public enum DurableStore {
    /// Opens the store and the KEK, checks that the KEK opens every tenant key already there (a
    /// wrong or regenerated KEK stops the server here), and finishes any shred a crash cut short.
    /// `environment` carries the S3 credentials for an `s3://` store.
    public static func open(_ configuration: DurableStoreConfiguration, environment: [String: String],
                            logger: Logger) async throws -> StoreWorkspaceVolumes {
        let store = try await StoreURL.open(configuration.resolvedStoreURL, environment: environment)
        // A store that already holds tenant keys was sealed by some KEK: making a new one here
        // (the old DATA/kek lost, or a new data directory) would only hide that behind a refusal
        // later, so say it now and touch nothing.
        if configuration.kekFile == nil, !FileManager.default.fileExists(atPath: configuration.defaultKEKFile),
           !(try await store.list(prefix: KeyHierarchy.tenantKeyPrefix)).isEmpty {
            throw HearthError(.invalidArgument, "the store already holds keys sealed by a KEK this server does not have; pass it with --kek-file",
                              detail: "no \(configuration.defaultKEKFile) and tenant key records in \(store.location)")
        }
        let kek = try loadOrCreateKEK(configuration, logger: logger)
        let keys = KeyHierarchy(store: store, kek: kek)
        try await keys.checkKEK()
        let swept = try await keys.sweep()
        if !swept.orphanVolumes.isEmpty || !swept.deadRecords.isEmpty {
            logger.notice("finished interrupted workspace deletes", metadata: [
                "store.orphan_volumes": "\(swept.orphanVolumes.count)", "store.dead_key_records": "\(swept.deadRecords.count)"])
        }
        logger.info("durable store", metadata: ["store.location": "\(store.location)", "kek.fingerprint": "\(kek.fingerprint)"])
        return StoreWorkspaceVolumes(keys: keys, cacheDirectory: configuration.dataDirectory + "/store-cache", logger: logger)
    }

    /// An explicit `--kek-file` must exist. Without one, `DATA/kek` is read, or made once: the one
    /// case where a KEK sits beside the data it protects, which the log says loudly.
    static func loadOrCreateKEK(_ configuration: DurableStoreConfiguration, logger: Logger) throws -> KeyEncryptionKey {
        if let file = configuration.kekFile { return try KeyEncryptionKey.load(file: file) }
        let file = configuration.defaultKEKFile
        if FileManager.default.fileExists(atPath: file) { return try KeyEncryptionKey.load(file: file) }
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let kek = KeyEncryptionKey.generate()
        do {
            try KeyEncryptionKey.write(kek, to: file)  // synced with its directory
        } catch {
            // Another process made it first (O_EXCL): use theirs.
            if FileManager.default.fileExists(atPath: file) { return try KeyEncryptionKey.load(file: file) }
            throw error
        }
        logger.warning("""
            created a new key-encryption key at \(file): copy it somewhere other than the data directory and \
            pass it with --kek-file. A KEK kept beside the store protects nothing against whoever copies the \
            directory, and losing it makes every workspace volume unreadable
            """, metadata: ["kek.file": "\(file)", "kek.fingerprint": "\(kek.fingerprint)"])
        return kek
    }
}

/// `WorkspaceVolumes` over the store's key hierarchy, mapping `StoreError` to `HearthError` (the
/// client sees the message, never the object keys in `detail`).
public struct StoreWorkspaceVolumes: WorkspaceVolumes {
    public let keys: KeyHierarchy
    /// Stat caches of workspace commits: host-owned, under the data directory, never in a layer.
    let cacheDirectory: String
    let writers = WorkspaceWriters()
    let reads = GenerationReads()
    let restores = GenerationReads(limit: 2, refusal: "too many rollbacks and forks are running; try again shortly")
    let logger: Logger

    public init(keys: KeyHierarchy, cacheDirectory: String, logger: Logger) {
        self.keys = keys
        self.cacheDirectory = cacheDirectory
        self.logger = logger
    }

    public func create(workspace: String, tenant: String) async throws {
        do { try await keys.createWorkspace(workspace, tenant: tenant) } catch { throw Self.map(error, "create the workspace's volume") }
    }

    public func delete(workspace: String) async throws {
        await writers.forget(workspace)
        do { try await keys.deleteWorkspace(workspace) } catch { throw Self.map(error, "delete the workspace's volume") }
        try? FileManager.default.removeItem(atPath: cacheDirectory + "/" + KeyHierarchy.volumeName(workspace: workspace))
    }

    static func map(_ error: any Error, _ doing: String) -> HearthError {
        guard let error = error as? StoreError else { return HearthError(.internal, "could not \(doing)", detail: "\(error)") }
        switch error.code {
        // These messages name only what the caller gave (a path inside the workspace, a
        // generation number); object keys and host paths stay in `detail`.
        case .invalidArgument: return HearthError(.invalidArgument, error.message, detail: error.detail)
        // Some not-found messages name the store's location: the client gets a fixed one.
        case .notFound: return HearthError(.notFound, "no such generation or path in the workspace's history", detail: "\(error)")
        case .noSpace: return HearthError(.noSpace, "the store is full: could not \(doing)", detail: "\(error)")
        default: return HearthError(.internal, "could not \(doing)", detail: "\(error)")
        }
    }
}
