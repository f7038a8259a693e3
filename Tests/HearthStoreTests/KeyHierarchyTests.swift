import Foundation
@testable import HearthStore
import Testing

/// The server's envelope keys (issue 16) on the local store: KEK → tenant key → workspace key →
/// the volume's data key; crypto-shred, sweep, rotation, records bound to their names, hostile ids.
@Suite("Key hierarchy")
struct KeyHierarchyTests {
    let kek = KeyEncryptionKey.generate()

    /// Every object key in the store.
    /// A scratch directory, a local store in it, and the hierarchy under this suite's KEK.
    func fresh() throws -> (Scratch, LocalObjectStore, KeyHierarchy) {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        return (scratch, store, KeyHierarchy(store: store, kek: kek))
    }

    func objects(_ store: LocalObjectStore, _ prefix: String = "") async throws -> [String] {
        try await store.list(prefix: prefix).map(\.key)
    }

    /// A workspace of `tenant` with a committed tree; returns its volume and the tree's snapshot.
    func workspaceWithData(_ keys: KeyHierarchy, _ scratch: Scratch, _ id: String, tenant: String, seed: UInt64) async throws -> (Volume, [String: String]) {
        let source = scratch.path("src-\(id)")
        try TreeFixture.make(at: source, seed: seed, files: 12)
        let volume = try await keys.createWorkspace(id, tenant: tenant)
        try await commitOnce(volume, source)
        return (volume, try TreeFixture.snapshot(source))
    }

    func restored(_ volume: Volume, _ scratch: Scratch) async throws -> [String: String] {
        let target = scratch.path("out-\(UUID().uuidString)")
        try await volume.restore(generation: nil, to: target)
        return try TreeFixture.snapshot(target)
    }

    @Test("a deleted workspace's volume opens with no key, and after the sweep none of its objects remain")
    func cryptoShred() async throws {
        let (scratch, store, keys) = try fresh()
        let (victim, _) = try await workspaceWithData(keys, scratch, "ws_victim", tenant: "tn_one", seed: 1)
        let (_, siblingTree) = try await workspaceWithData(keys, scratch, "ws_sibling", tenant: "tn_one", seed: 2)
        let victimObjects = try await objects(store, "volumes/workspace.ws_victim/") + objects(store, "families/\(victim.family)/")
        #expect(victimObjects.contains { $0.contains("/packs/") } && victimObjects.contains { $0.contains("/generations/") })

        // The shred point alone, as if the server died right after it: the record is gone, the objects are not.
        try await store.delete("keys/workspaces/ws_victim")
        let byHierarchy = await #expect(throws: StoreError.self) { try await keys.openWorkspace("ws_victim", tenant: "tn_one") }
        #expect(byHierarchy?.code == .notFound)
        // Neither the KEK nor the tenant key opens its key file, so no pack, index or generation opens.
        let byKEK = await #expect(throws: StoreError.self) { try await Volume.open(store: store, name: "workspace.ws_victim", kek: kek) }
        #expect(byKEK?.code == .wrongKey)
        let tenantKey = try await keys.tenantKey("tn_one", create: false)
        let byTenant = await #expect(throws: StoreError.self) { try await Volume.open(store: store, name: "workspace.ws_victim", kek: tenantKey) }
        #expect(byTenant?.code == .wrongKey)

        let report = try await keys.sweep()
        #expect(report.orphanVolumes == ["ws_victim"] && report.deadRecords.isEmpty)
        for key in victimObjects { #expect(try await store.head(key) == nil, "\(key) survived the sweep") }
        #expect(try await objects(store, "families/\(victim.family)/").isEmpty)
        #expect(try await objects(store, "volumes/workspace.ws_victim/").isEmpty)
        // The sibling is untouched and still reads back whole.
        #expect(try await restored(try await keys.openWorkspace("ws_sibling", tenant: "tn_one"), scratch) == siblingTree)
        #expect(try await keys.sweep() == KeySweepReport())
    }

    @Test("deleting a workspace shreds its record and removes every object of its volume at once")
    func deleteRemovesEverything() async throws {
        let (scratch, store, keys) = try fresh()
        let (volume, _) = try await workspaceWithData(keys, scratch, "ws_gone", tenant: "tn_one", seed: 3)
        try await keys.deleteWorkspace("ws_gone")
        #expect(try await store.head("keys/workspaces/ws_gone") == nil)
        #expect(try await objects(store, "families/\(volume.family)/").isEmpty)
        #expect(try await objects(store, "volumes/").isEmpty)
        #expect(try await objects(store, "keys/tenants/") == ["keys/tenants/tn_one"])
        let error = await #expect(throws: StoreError.self) { try await keys.openWorkspace("ws_gone", tenant: "tn_one") }
        #expect(error?.code == .notFound)
        try await keys.deleteWorkspace("ws_gone")  // Idempotent.
    }

    @Test("deleting a tenant shreds its key record and its workspaces; another tenant's are untouched")
    func deleteTenant() async throws {
        let (scratch, store, keys) = try fresh()
        _ = try await workspaceWithData(keys, scratch, "ws_a1", tenant: "tn_a", seed: 4)
        try await keys.createWorkspace("ws_a2", tenant: "tn_a")
        let (_, otherTree) = try await workspaceWithData(keys, scratch, "ws_b1", tenant: "tn_b", seed: 5)
        try await keys.deleteTenant("tn_a")
        #expect(try await objects(store, "keys/") == ["keys/tenants/tn_b", "keys/workspaces/ws_b1"])
        #expect(try await objects(store, "volumes/").allSatisfy { $0.hasPrefix("volumes/workspace.ws_b1/") })
        let error = await #expect(throws: StoreError.self) { try await keys.openWorkspace("ws_a1", tenant: "tn_a") }
        #expect(error?.code == .notFound)
        #expect(try await restored(try await keys.openWorkspace("ws_b1", tenant: "tn_b"), scratch) == otherTree)
    }

    @Test("a tenant delete cut short after its record went leaves records the sweep removes with their volumes")
    func sweepFinishesATenantDelete() async throws {
        let (scratch, store, keys) = try fresh()
        _ = try await workspaceWithData(keys, scratch, "ws_a1", tenant: "tn_a", seed: 6)
        try await keys.createWorkspace("ws_b1", tenant: "tn_b")
        try await store.delete("keys/tenants/tn_a")
        let report = try await keys.sweep()
        #expect(report.deadRecords == ["ws_a1"])
        #expect(try await objects(store, "keys/") == ["keys/tenants/tn_b", "keys/workspaces/ws_b1"])
        #expect(try await objects(store, "volumes/").allSatisfy { $0.hasPrefix("volumes/workspace.ws_b1/") })
    }

    @Test("a sweep with the wrong KEK refuses and removes nothing")
    func sweepWithTheWrongKEK() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        _ = try await workspaceWithData(KeyHierarchy(store: store, kek: kek), scratch, "ws_a1", tenant: "tn_a", seed: 7)
        let before = try await objects(store)
        let error = await #expect(throws: StoreError.self) { try await KeyHierarchy(store: store, kek: .generate()).sweep() }
        #expect(error?.code == .wrongKey)
        #expect(try await objects(store) == before)
    }

    @Test("rotation: data written before reads after with the new KEK; the old KEK is refused by name")
    func rotate() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        let old = kek, new = KeyEncryptionKey.generate()
        let before = KeyHierarchy(store: store, kek: old)
        let (_, treeA) = try await workspaceWithData(before, scratch, "ws_a", tenant: "tn_a", seed: 8)
        let (_, treeB) = try await workspaceWithData(before, scratch, "ws_b", tenant: "tn_b", seed: 9)
        // An operator's own volume (`hearth volume`) wrapped by the same KEK goes along.
        let plain = try await openVolume(store, "operator-volume", kek: old)
        let plainSource = scratch.path("plain")
        try TreeFixture.make(at: plainSource, seed: 10, files: 6)
        try await commitOnce(plain, plainSource)
        let data = try await objects(store, "families/")
        let dataBytes = try await data.asyncMap { try await store.get($0).bytes }

        // A wrong old KEK is refused before anything is written.
        let wrong = await #expect(throws: StoreError.self) { try await KeyHierarchy.rotate(store: store, from: .generate(), to: new) }
        #expect(wrong?.code == .wrongKey)
        #expect(try await KeyHierarchy(store: store, kek: old).checkKEK().count == 2)

        let report = try await KeyHierarchy.rotate(store: store, from: old, to: new)
        #expect(report == KeyRotationReport(tenants: 2, alreadyRotated: 0, volumes: 1))
        #expect(try await objects(store, "families/") == data)
        let dataBytesAfter = try await data.asyncMap { try await store.get($0).bytes }
        #expect(dataBytesAfter == dataBytes, "rotation rewrote data")

        let after = KeyHierarchy(store: store, kek: new)
        #expect(try await restored(try await after.openWorkspace("ws_a", tenant: "tn_a"), scratch) == treeA)
        #expect(try await restored(try await after.openWorkspace("ws_b", tenant: "tn_b"), scratch) == treeB)
        #expect(try await restored(try await Volume.open(store: store, name: "operator-volume", kek: new), scratch)
                == (try TreeFixture.snapshot(plainSource)))

        let refused = await #expect(throws: StoreError.self) { try await before.openWorkspace("ws_a", tenant: "tn_a") }
        #expect(refused?.code == .wrongKey)
        #expect(refused?.message.contains("the KEK \(old.fingerprint) does not open tenant tn_a's key") == true, "\(String(describing: refused))")
        #expect(refused?.message.contains(new.fingerprint) == true)
        let atStart = await #expect(throws: StoreError.self) { try await before.checkKEK() }
        #expect(atStart?.code == .wrongKey)
        let plainOld = await #expect(throws: StoreError.self) { try await Volume.open(store: store, name: "operator-volume", kek: old) }
        #expect(plainOld?.code == .wrongKey)

        // Running it again (an interrupted rotation resumed) changes nothing.
        #expect(try await KeyHierarchy.rotate(store: store, from: old, to: new) == KeyRotationReport(tenants: 0, alreadyRotated: 2, volumes: 0))
    }

    @Test("a record moved or copied to another name fails authentication; a flipped byte too")
    func movedRecords() async throws {
        let (scratch, store, keys) = try fresh()
        defer { withExtendedLifetime(scratch) {} }  // the store lives in it
        try await keys.createWorkspace("ws_1", tenant: "tn_a")
        try await keys.createWorkspace("ws_2", tenant: "tn_a")
        try await keys.createWorkspace("ws_3", tenant: "tn_b")

        // Tenant a's record over tenant b's: same KEK, wrong name.
        try await store.put("keys/tenants/tn_b", try await store.get("keys/tenants/tn_a").bytes, condition: .always)
        let tenant = await #expect(throws: StoreError.self) { try await keys.openWorkspace("ws_3", tenant: "tn_b") }
        #expect(tenant?.code == .damaged && tenant?.message.contains("failed authentication") == true)
        #expect(tenant?.detail?.contains("keys/tenants/tn_b") == true)

        // Workspace 1's record over workspace 2's: same tenant key, wrong name.
        try await store.put("keys/workspaces/ws_2", try await store.get("keys/workspaces/ws_1").bytes, condition: .always)
        let workspace = await #expect(throws: StoreError.self) { try await keys.openWorkspace("ws_2", tenant: "tn_a") }
        #expect(workspace?.code == .damaged)
        _ = try await keys.openWorkspace("ws_1", tenant: "tn_a")

        // A workspace claimed for another tenant: that tenant's key is not the one that sealed it.
        try await keys.createWorkspace("ws_4", tenant: "tn_c")
        let crossTenant = await #expect(throws: StoreError.self) { try await keys.openWorkspace("ws_1", tenant: "tn_c") }
        #expect(crossTenant?.code == .wrongKey)
        let recreate = await #expect(throws: StoreError.self) { try await keys.createWorkspace("ws_1", tenant: "tn_c") }
        #expect(recreate?.code == .wrongKey)

        var bytes = try await store.get("keys/workspaces/ws_1").bytes
        bytes[40] ^= 0x01
        try await store.put("keys/workspaces/ws_1", bytes, condition: .always)
        let flipped = await #expect(throws: StoreError.self) { try await keys.openWorkspace("ws_1", tenant: "tn_a") }
        #expect(flipped?.code == .damaged)
    }

    @Test("hostile tenant and workspace ids are refused before they name anything in the store")
    func hostileIds() async throws {
        let (scratch, store, keys) = try fresh()
        defer { withExtendedLifetime(scratch) {} }  // the store lives in it
        let hostile = ["", ".", "..", "../x", "x/..", "a/b", "/abs", "a\\b", "a.b", ".hidden", "a b", "a\0b", "ws_ü", "%2e%2e",
                       "a\nb", String(repeating: "a", count: 65), String(repeating: "é", count: 40)]
        for id in hostile {
            let attempts: [@Sendable () async throws -> Volume] = [
                { try await keys.createWorkspace(id, tenant: "tn_ok") }, { try await keys.createWorkspace("ws_ok", tenant: id) },
                { try await keys.openWorkspace(id, tenant: "tn_ok") },
            ]
            for attempt in attempts {
                let error = await #expect(throws: StoreError.self) { _ = try await attempt() }
                #expect(error?.code == .invalidArgument, "\(id.debugDescription)")
            }
            let deleted = await #expect(throws: StoreError.self) { try await keys.deleteWorkspace(id) }
            #expect(deleted?.code == .invalidArgument)
            let tenantDeleted = await #expect(throws: StoreError.self) { try await keys.deleteTenant(id) }
            #expect(tenantDeleted?.code == .invalidArgument)
        }
        #expect(try await objects(store).isEmpty)
        #expect(throws: Never.self) { try KeyHierarchy.validate(id: String(repeating: "a", count: 64), kind: "workspace") }
        #expect(throws: Never.self) { try KeyHierarchy.validate(id: "ws_ABCdef-123", kind: "workspace") }
    }

    @Test("20,000 mutated key records never trap and never open as anything but the original key")
    func fuzzRecords() throws {
        let sealer = KeyEncryptionKey.generate()
        let key = KeyEncryptionKey.generate()
        let name = "keys/workspaces/ws_fuzz"
        let original = try KeyRecord.seal(key, under: sealer, objectKey: name)
        var rng = SplitMix(seed: 16)
        var opened = 0
        for round in 0..<20_000 {
            var bytes = original
            switch rng.next() % 5 {
            case 0: bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 + rng.next() % 255)
            case 1: bytes.removeLast(Int(rng.next() % UInt64(bytes.count + 1)))
            case 2: bytes += (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 3: bytes = (0..<Int(rng.next() % 160)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            default:
                let at = Int(rng.next() % UInt64(bytes.count))
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            do {
                let record = try KeyRecord.parse(bytes, objectKey: name)
                let result = try record.open(with: sealer, objectKey: name, what: "fuzz", sealerName: "sealer")
                #expect(bytes == original, "round \(round): a changed record opened")
                #expect(result.fingerprint == key.fingerprint)
                opened += 1
            } catch let error as StoreError {
                #expect([StoreError.Code.damaged, .wrongKey].contains(error.code), "round \(round): \(error)")
            }
        }
        // Some mutations are no-ops (a byte set to its own value); only those open.
        #expect(opened < 20_000)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
