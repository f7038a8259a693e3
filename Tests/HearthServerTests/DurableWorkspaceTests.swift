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

    /// A decoded JSON object from a response body.
    static func object(_ body: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    }

    @Test func syncCommitsWhatChangedAndHistoryListsEachGenerationWithItsTrigger() async throws {
        let data = ProcessHost.scratchDirectory("hearth-sync")
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        configuration.commitInterval = nil  // the test runs the interval's round itself
        configuration.workspaceVolumes = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:],
                                                                     logger: ProcessHost.quietLogger)
        let service = try await ProcessHost.service(configuration, runtime: ProcessRuntime())
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let (_, keys) = try Self.keys(data)
        try await service.application().test(.router) { client in
            let created = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"synced"}"#)
            let id = try ProcessRuntimeRouterTests.workspace(created.body).id
            let root = data + "/workspaces/\(id)/workspace"
            try "first".write(toFile: root + "/notes.txt", atomically: false, encoding: .utf8)
            // A link the workspace made to a host file is kept as a link, never read through.
            #expect(symlink(data + "/admin.token", root + "/token") == 0)

            let first = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/sync", token: admin)
            #expect(first.status == 200, "\(first.body)")
            let firstBody = try Self.object(first.body)
            #expect(firstBody["generation"] as? Int == 1 && firstBody["published"] as? Bool == true)

            // The workspace shows how durable it is: its generation and when that was confirmed.
            let shown = try Self.object(try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(id)", token: admin).body)
            #expect(shown["durable_generation"] as? Int == 1 && shown["durable_at"] is String)

            // Nothing changed: the same generation, nothing published.
            let again = try Self.object(try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/sync", token: admin).body)
            #expect(again["generation"] as? Int == 1 && again["published"] as? Bool == false)

            // The interval's round commits a change, and only the changed file is read.
            try "second".write(toFile: root + "/more.txt", atomically: false, encoding: .utf8)
            await service.manager.commitRunning()
            // A stop commits what changed since.
            try "third".write(toFile: root + "/notes.txt", atomically: false, encoding: .utf8)
            #expect(try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/stop", token: admin).status == 200)

            let listed = try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(id)/generations", token: admin)
            #expect(listed.status == 200, "\(listed.body)")
            let generations = try #require(try Self.object(listed.body)["generations"] as? [[String: Any]])
            #expect(generations.map { $0["generation"] as? Int } == [1, 2, 3])
            #expect(generations.map { $0["trigger"] as? String } == ["sync", "interval", "stop"])

            // What the store holds: the files of each generation, and the link as a link.
            let volume = try await keys.openWorkspace(id, tenant: Tenancy.defaultTenantID)
            let restored = data + "/restored"
            _ = try await volume.restore(generation: 3, to: URL(fileURLWithPath: restored))
            #expect(try String(contentsOfFile: restored + "/notes.txt", encoding: .utf8) == "third")
            #expect(try String(contentsOfFile: restored + "/more.txt", encoding: .utf8) == "second")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: restored + "/token") == data + "/admin.token")

            // Time travel without a restore: a directory, a file, a diff, each from the store.
            func get(_ path: String) async throws -> (status: Int, body: String) {
                try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(id)\(path)", token: admin)
            }
            let listing = try Self.object(try await get("/generations/1/files?path=/").body)
            let names = (listing["entries"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names == ["notes.txt", "token"])
            #expect(try await get("/generations/1/content?path=notes.txt").body == "first")
            #expect(try await get("/generations/3/content?path=/notes.txt").body == "third")
            let diff = try Self.object(try await get("/generations/1/diff?to=2").body)
            #expect((diff["changes"] as? [[String: Any]])?.compactMap { $0["path"] as? String } == ["more.txt"])
            // The link is a link: reading it reads nothing through it, least of all the admin token.
            let link = try await get("/generations/1/content?path=token")
            #expect(link.status == 400 && !link.body.contains(admin))
            for bad in ["/generations/1/content?path=../admin.token", "/generations/abc/files", "/generations/0/files", "/generations/1/diff?to=x"] {
                #expect(try await get(bad).status == 400, "\(bad)")
            }
            #expect(try await get("/generations/99/files").status == 404)

            // Another tenant's members: `ProcessRuntimeRouterTests.anotherTenantSees…` covers sync and generations.
        }
    }

    @Test func aServerWithoutAStoreSaysSoOnSync() async throws {
        let data = ProcessHost.scratchDirectory("hearth-nostore")
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        let service = try await ProcessHost.service(configuration, runtime: ProcessRuntime())
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try await service.application().test(.router) { client in
            let created = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"plain"}"#)
            let id = try ProcessRuntimeRouterTests.workspace(created.body).id
            let answer = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/sync", token: admin)
            #expect(answer.status == 503)
            #expect(answer.body.contains("store_unavailable"))
        }
    }

    @Test func eachWorkspaceIsCommittedOnItsOwnIntervalOrTheServers() async throws {
        let data = ProcessHost.scratchDirectory("hearth-intervals")
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        configuration.commitInterval = .seconds(60)
        configuration.workspaceVolumes = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:],
                                                                     logger: ProcessHost.quietLogger)
        let service = try await ProcessHost.service(configuration, runtime: ProcessRuntime())
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try await service.application().test(.router) { client in
            var ids: [String: String] = [:]
            for (name, body) in [("own", #"{"name":"own","commit_interval_s":10}"#), ("off", #"{"name":"off","commit_interval_s":0}"#),
                                 ("default", #"{"name":"default"}"#)] {
                let created = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: body)
                #expect(created.status == 201, "\(created.body)")
                ids[name] = try ProcessRuntimeRouterTests.workspace(created.body).id
            }
            let bad = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"commit_interval_s":3}"#)
            #expect(bad.status == 400)
            func generations(_ name: String) async throws -> [Int?] {
                let body = try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(ids[name]!)/generations", token: admin).body
                return (try Self.object(body)["generations"] as? [[String: Any]] ?? []).map { $0["generation"] as? Int }
            }
            // The clock is the test's: nothing is due now; 11 s on, the workspace with 10 s is;
            // 61 s on, the server's 60 s default is too; the one with 0 never is.
            let now = Date()
            await service.manager.commitDue(now: now)
            #expect(try await generations("own").isEmpty)
            await service.manager.commitDue(now: now.addingTimeInterval(11))
            #expect(try await generations("own") == [1])
            #expect(try await generations("default").isEmpty)
            await service.manager.commitDue(now: now.addingTimeInterval(61))
            #expect(try await generations("default") == [1])
            #expect(try await generations("off").isEmpty)
            let own = try Self.object(try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(ids["own"]!)", token: admin).body)
            #expect(own["commit_interval_s"] as? Int == 10)
        }
    }
}
