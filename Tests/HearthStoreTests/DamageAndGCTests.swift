import Foundation
import GRDB
@testable import HearthStore
import Testing

@Suite("Damage, GC, fork and rollback")
struct DamageAndGCTests {
    let kek = KeyEncryptionKey.generate()

    func twoGenerations(_ scratch: Scratch) async throws -> (LocalObjectStore, Volume) {
        let store = try LocalObjectStore(root: scratch.path("store"))
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 51, files: 20)
        let volume = try await openVolume(store, kek: kek)
        try await commitOnce(volume, source)
        try Data(repeating: 7, count: 300_000).write(to: source.appendingPathComponent("second.bin"))
        try await commitOnce(volume, source)
        return (store, volume)
    }

    @Test("a flipped byte in a pack is named by verify and refused by restore")
    func flippedByte() async throws {
        let scratch = try Scratch()
        let (store, volume) = try await twoGenerations(scratch)
        let packs = try await store.list(prefix: "families/").filter { $0.key.contains("/packs/") }
        let victim = store.root.appendingPathComponent(packs.max { $0.size < $1.size }!.key)
        var bytes = try Data(contentsOf: victim)
        bytes[100] ^= 0x01
        try bytes.write(to: victim)
        let report = try await volume.verify()
        #expect(!report.isHealthy)
        #expect(report.damage.contains { $0.contains("failed authentication") && $0.contains("generation") })
        let target = scratch.path("out")
        let error = await #expect(throws: StoreError.self) { try await volume.restore(generation: 1, to: target) }
        #expect(error?.code == .damaged)
        #expect(!FileManager.default.fileExists(atPath: target.path))
    }

    @Test("a missing pack and a truncated generation are named; the previous generation still restores")
    func missingAndTruncated() async throws {
        let scratch = try Scratch()
        let (store, volume) = try await twoGenerations(scratch)
        let head = store.root.appendingPathComponent("volumes/vol/generations/" + String(repeating: "0", count: 19) + "2")
        let data = try Data(contentsOf: head)
        try data.prefix(data.count / 2).write(to: head)
        let report = try await volume.verify()
        #expect(report.damage.contains { $0.hasPrefix("generation 2:") })
        await #expect(throws: StoreError.self) { try await volume.restore(generation: 2, to: scratch.path("bad")) }
        _ = try await volume.restore(generation: 1, to: scratch.path("good"))

        let packs = try await store.list(prefix: "families/").filter { $0.key.contains("/packs/") }
        for pack in packs { try FileManager.default.removeItem(at: store.root.appendingPathComponent(pack.key)) }
        let after = try await volume.verify(generation: 1)
        #expect(after.damage.contains { $0.contains("is missing") })
    }

    @Test("retention prunes, GC condemns then deletes, and what is kept still restores and verifies")
    func garbageCollection() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        let source = scratch.path("src")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let volume = try await openVolume(store, kek: kek)
        for round in 0..<3 {
            try? FileManager.default.removeItem(at: source.appendingPathComponent("data.bin"))
            var rng = SplitMix(seed: UInt64(round))
            try Data((0..<2_000_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).write(to: source.appendingPathComponent("data.bin"))
            try await commitOnce(volume, source)
        }
        let first = try await volume.collectGarbage(retention: RetentionPolicy(keepLast: 1), grace: 0)
        #expect(first.pruned == [1, 2])
        #expect(first.packsCondemned == 4)  // a data pack and a tree pack per pruned generation
        #expect(first.packsDeleted == 0)
        let second = try await volume.collectGarbage(retention: RetentionPolicy(keepLast: 1), grace: 0)
        #expect(second.packsDeleted == 4)
        #expect(try await volume.verify().isHealthy)
        _ = try await volume.restore(generation: nil, to: scratch.path("out"))
        #expect(try TreeFixture.snapshot(scratch.path("out")) == TreeFixture.snapshot(source))
        let pruned = await #expect(throws: StoreError.self) { try await volume.restore(generation: 1, to: scratch.path("old")) }
        #expect(pruned?.code == .notFound)
    }

    @Test("fork shares chunks; rollback makes an old tree the head as a new generation")
    func forkAndRollback() async throws {
        let scratch = try Scratch()
        let (store, volume) = try await twoGenerations(scratch)
        let packsBefore = try await store.list(prefix: "families/").count
        let fork = try await volume.fork(generation: 1, to: "copy", kek: kek)
        #expect(try await store.list(prefix: "families/").count == packsBefore)
        _ = try await fork.restore(generation: nil, to: scratch.path("fork"))
        #expect(!FileManager.default.fileExists(atPath: scratch.path("fork/second.bin").path))
        let writer = VolumeWriter(volume: volume)
        try await writer.acquire()
        let rolled = try await writer.rollback(to: 1)
        #expect(rolled.generation == 3)
        #expect(try await volume.diff(1, 3).isEmpty)
        // GC of the origin must not delete what the fork still reaches.
        _ = try await volume.collectGarbage(retention: RetentionPolicy(keepLast: 1), grace: 0)
        _ = try await volume.collectGarbage(retention: RetentionPolicy(keepLast: 1), grace: 0)
        #expect(try await fork.verify().isHealthy)
    }

    @Test("a database written by another process restores as a gap-free prefix that passes integrity_check")
    func sqliteUnderLoad() async throws {
        let scratch = try Scratch()
        let source = scratch.path("src")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let db = source.appendingPathComponent("app.db").path
        let script = """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL"); c.execute("CREATE TABLE IF NOT EXISTS t(n INTEGER PRIMARY KEY, pad BLOB)")
            n = 0
            deadline = time.time() + 6
            while time.time() < deadline:
                n += 1
                c.execute("INSERT INTO t VALUES (?, randomblob(200))", (n,))
            """
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        writer.arguments = ["-c", script, db]
        try writer.run()
        while !FileManager.default.fileExists(atPath: db) { try await Task.sleep(nanoseconds: 50_000_000) }
        try await Task.sleep(nanoseconds: 300_000_000)
        let volume = try await openVolume(try LocalObjectStore(root: scratch.path("store")), kek: kek)
        var floors: [UInt64: Int] = [:]
        for _ in 0..<4 {
            // Rows visible before the commit starts must be in the generation.
            let floor = try await DatabaseQueue(path: db).read { try Int.fetchOne($0, sql: "SELECT max(n) FROM t") ?? 0 }
            let result = try await commitOnce(volume, source)
            floors[result.generation] = floor
            try await Task.sleep(nanoseconds: 400_000_000)
        }
        writer.waitUntilExit()
        for (generation, floor) in floors {
            let out = scratch.path("restore-\(generation)")
            _ = try await volume.restore(generation: generation, to: out)  // runs integrity_check
            let (count, maximum) = try await DatabaseQueue(path: out.appendingPathComponent("app.db").path).read {
                (try Int.fetchOne($0, sql: "SELECT count(*) FROM t") ?? 0, try Int.fetchOne($0, sql: "SELECT max(n) FROM t") ?? 0)
            }
            #expect(count == maximum, "generation \(generation) has a gap")
            #expect(maximum >= floor, "generation \(generation) lost rows committed before it")
        }
    }
}
