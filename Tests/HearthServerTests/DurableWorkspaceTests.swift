import Foundation
import HearthCore
import HearthHost
import HearthServer
import HearthServerTestKit
import HearthStore
import HearthTestKit
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Issue 16's start: the server's store and KEK from the composition root, and each workspace's key
/// and volume made at create and crypto-shredded at delete, through the router on ProcessRuntime.
@Suite(.serialized, .timeLimit(.minutes(2))) struct DurableWorkspaceTests {
    static func keys(_ data: String) throws -> (LocalObjectStore, KeyHierarchy) {
        let store = try LocalObjectStore(root: URL(fileURLWithPath: data + "/store"))
        return (store, KeyHierarchy(store: store, kek: try KeyEncryptionKey.load(file: data + "/kek")))
    }

    @Test func theServerMakesItsKEKOnceWarnsOnceAndRefusesAnotherLater() async throws {
        let data = ProcessHost.scratchDirectory("hearth-kek")
        let capture = LogCapture()
        let first = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:], logger: capture.logger())
        var info = stat()
        #expect(stat(data + "/kek", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let warnings = capture.all.filter { $0.level == .warning && $0.message.contains("somewhere other than the data directory") }
        #expect(warnings.count == 1)
        let text = try String(contentsOfFile: data + "/kek", encoding: .utf8)
        try await first.create(workspace: "ws_one", tenant: "tn_one")

        // A restart reads the same KEK and says nothing more.
        let again = LogCapture()
        _ = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:], logger: again.logger())
        #expect(again.all.allSatisfy { $0.level < .warning })
        #expect(try String(contentsOfFile: data + "/kek", encoding: .utf8) == text)

        // A named KEK file must exist; it is never made.
        let missing = await #expect(throws: StoreError.self) {
            try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data, kekFile: data + "/nope"), environment: [:], logger: capture.logger())
        }
        #expect(missing?.code == .noKey)
        #expect(!FileManager.default.fileExists(atPath: data + "/nope"))

        // Another KEK over a store whose tenant keys it cannot open: the server does not start.
        try KeyEncryptionKey.write(.generate(), to: data + "/other.kek")
        let wrong = await #expect(throws: StoreError.self) {
            try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data, kekFile: data + "/other.kek"), environment: [:], logger: capture.logger())
        }
        #expect(wrong?.code == .wrongKey)

        // DATA/kek lost (or a new data directory over the same store): no new KEK is made over a
        // store that already holds tenant keys, and nothing is written.
        try FileManager.default.moveItem(atPath: data + "/kek", toPath: data + "/kek.saved")
        let lost = await #expect(throws: HearthError.self) {
            try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:], logger: capture.logger())
        }
        #expect(lost?.message.contains("--kek-file") == true)
        #expect(!FileManager.default.fileExists(atPath: data + "/kek"))
    }

    @Test func aWorkspaceGetsAVolumeAtCreateAndItsKeyIsShreddedAtDelete() async throws {
        let data = ProcessHost.scratchDirectory("hearth-durable")
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        configuration.workspaceVolumes = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:],
                                                                     logger: ProcessHost.quietLogger)
        let service = try await ProcessHost.service(configuration, runtime: ProcessRuntime())
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let (store, keys) = try Self.keys(data)
        try await service.application().test(.router) { client in
            let created = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"durable"}"#)
            #expect(created.status == 201, "\(created.body)")
            let id = try ProcessRuntimeRouterTests.workspace(created.body).id
            #expect(try await store.head("keys/workspaces/\(id)") != nil)
            let volume = try await keys.openWorkspace(id, tenant: Tenancy.defaultTenantID)
            #expect(volume.name == "workspace.\(id)")
            #expect(try await volume.head() == nil)

            #expect(try await ProcessRuntimeRouterTests.call(client, .delete, "/v1/workspaces/\(id)", token: admin).status == 204)
            #expect(try await store.head("keys/workspaces/\(id)") == nil)
            #expect(try await store.list(prefix: "volumes/workspace.\(id)/").isEmpty)
            #expect(try await store.list(prefix: "families/\(volume.family)/").isEmpty)
            let error = await #expect(throws: StoreError.self) { try await keys.openWorkspace(id, tenant: Tenancy.defaultTenantID) }
            #expect(error?.code == .notFound)
            // The tenant's key stays for its other workspaces.
            #expect(try await store.head("keys/tenants/\(Tenancy.defaultTenantID)") != nil)
        }
    }
}
