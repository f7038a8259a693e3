import ArgumentParser
import Foundation
import HearthHost
import HearthServer
import HearthStore
import HearthStoreS3

struct KEKCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kek",
        abstract: "The server store's key-encryption key.",
        subcommands: [KEKRotate.self])
}

/// Offline: run it with the server stopped (a server started with the old KEK refuses the store
/// afterwards, by design). Reseals every tenant key, and rewraps every `hearth volume` data key the
/// old KEK wrapped directly; no data object is read or written.
struct KEKRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Reseal every tenant key of the store under a new KEK (server stopped); the old KEK then opens nothing.",
        discussion: "Make the new KEK with `hearth volume keygen --out FILE`, rotate, then start the server with --kek-file NEW.")

    @Option(help: "The KEK the store is sealed with now")
    var old: String
    @Option(help: "The KEK to seal it with")
    var new: String
    @Option(help: "Store URL (default: file://DATA/store)")
    var store: String?
    @Option(help: "Data directory (default: $HEARTH_DATA, /var/lib/hearth as root)")
    var data: String?

    func run() async throws {
        try await withStoreErrors {
            let environment = ProcessInfo.processInfo.environment
            let directory = data ?? HearthServerConfiguration.defaultDataDirectory(hearthData: environment["HEARTH_DATA"])
            let url = DurableStoreConfiguration(dataDirectory: directory, storeURL: store).resolvedStoreURL
            let oldKEK = try KeyEncryptionKey.load(file: old)
            let newKEK = try KeyEncryptionKey.load(file: new)
            let report = try await KeyHierarchy.rotate(store: try await StoreURL.open(url, environment: environment), from: oldKEK, to: newKEK)
            print("resealed \(report.tenants) tenant key(s) and \(report.volumes) volume key(s) under KEK \(newKEK.fingerprint)"
                  + (report.alreadyRotated > 0 ? "; \(report.alreadyRotated) already were" : ""))
        }
    }
}
