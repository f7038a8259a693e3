import Foundation
@testable import HearthStore
import Testing

/// Someone with write access to the bucket but no key deletes the newest generations: the volume
/// must not silently go back in time.
@Suite("Rollback by deletion")
struct VolumeRollbackTests {
    let kek = KeyEncryptionKey.generate()

    @Test func deletingTheNewestGenerationsIsNoticedByHeadRestoreVerifyAndTheWriter() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        let source = scratch.path("src")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let volume = try await openVolume(store, kek: kek)
        for round in 1...3 {
            try Data("round \(round)".utf8).write(to: source.appendingPathComponent("note.txt"))
            try await commitOnce(volume, source)
        }
        #expect(try await volume.anchor()?.anchor.generation == 3)
        #expect(try await volume.head()?.generation == 3)

        // The attack: the two newest generation objects vanish.
        for number: UInt64 in [2, 3] { try await store.delete(StoreLayout.generation(volume.name, number)) }

        let head = await #expect(throws: StoreError.self) { _ = try await volume.head() }
        #expect(head?.code == .damaged)
        #expect(head?.message.contains("were deleted") == true, "\(head?.message ?? "")")
        let restore = await #expect(throws: StoreError.self) { _ = try await volume.restore(generation: nil, to: scratch.path("out")) }
        #expect(restore?.code == .damaged)
        #expect(!FileManager.default.fileExists(atPath: scratch.path("out").path))
        let report = try await volume.verify()
        #expect(report.damage.contains { $0.contains("were deleted") }, "\(report.damage)")
        let writer = VolumeWriter(volume: volume)
        let acquire = await #expect(throws: StoreError.self) { try await writer.acquire() }
        #expect(acquire?.code == .damaged)

        // What is left can still be read when asked for by number.
        _ = try await volume.restore(generation: 1, to: scratch.path("one"))
        #expect(try String(contentsOf: scratch.path("one/note.txt"), encoding: .utf8) == "round 1")
    }

    @Test func anAnchorCannotBeForgedOrMovedFromAnotherVolume() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        let source = scratch.path("src")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let a = try await openVolume(store, "a", kek: kek)
        try await commitOnce(a, source)
        // A fork shares the data key, so only the name bound into the seal tells the anchors apart.
        let b = try await a.fork(generation: nil, to: "b", kek: kek)
        #expect(try await b.anchor()?.anchor.generation == 1)
        try await commitOnce(a, source)
        let moved = try await store.get(StoreLayout.head("a")).bytes
        try await store.put(StoreLayout.head("b"), moved, condition: .always)
        await #expect(throws: StoreError.self) { _ = try await b.head() }
        try await store.put(StoreLayout.head("b"), Array("{\"volume\":\"b\",\"generation\":0,\"epoch\":0}".utf8), condition: .always)
        await #expect(throws: StoreError.self) { _ = try await b.head() }
    }
}
