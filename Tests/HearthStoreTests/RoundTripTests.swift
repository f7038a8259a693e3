import CompressNIO
import Foundation
import NIOCore
@testable import HearthStore
import Testing

@Suite("Volume round trips")
struct RoundTripTests {
    let kek = KeyEncryptionKey.generate()

    @Test("random trees survive commit and restore exactly", arguments: [1, 2, 3, 4] as [UInt64])
    func randomTrees(seed: UInt64) async throws {
        let scratch = try Scratch()
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: seed, files: 60)
        let volume = try await openVolume(try LocalObjectStore(root: scratch.path("store")), kek: kek)
        let result = try await commitOnce(volume, source)
        #expect(result.generation == 1)
        let restored = scratch.path("out")
        _ = try await volume.restore(generation: nil, to: restored)
        let expected = try TreeFixture.snapshot(source), actual = try TreeFixture.snapshot(restored)
        #expect(expected.count > 30)
        #expect(actual == expected)
        #expect(try await volume.verify().isHealthy)
    }

    @Test("blob encodings: text is stored as zstd, random bytes as is, and deflate from older packs still decodes")
    func blobEncodings() throws {
        let text = PipelineBenchmark.makeData(bytes: 200_000, content: .text)
        let random = PipelineBenchmark.makeData(bytes: 200_000, content: .random)
        let packedText = text.withUnsafeBytes { PackFormat.encode($0) }
        let packedRandom = random.withUnsafeBytes { PackFormat.encode($0) }
        #expect(packedText.first == 2 && packedText.count < text.count / 2)
        #expect(packedRandom.first == 0 && packedRandom.count == random.count + 1)
        #expect(try PackFormat.decode(packedText, rawLength: text.count) == text)
        #expect(try PackFormat.decode(packedRandom, rawLength: random.count) == random)
        var plain = ByteBuffer(bytes: text)
        let deflated = try plain.compress(with: CompressionAlgorithm.deflate())
        #expect(try PackFormat.decode([1] + Array(deflated.readableBytesView), rawLength: text.count) == text)
        // A frame cut short, or one that claims the wrong length, is damage, not data.
        #expect(throws: StoreError.self) { try PackFormat.decode(Array(packedText.dropLast(7)), rawLength: text.count) }
        #expect(throws: StoreError.self) { try PackFormat.decode(packedText, rawLength: text.count + 1) }
    }

    @Test("a second commit reads only what changed and stores only new chunks")
    func incremental() async throws {
        let scratch = try Scratch()
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 9, files: 80)
        let volume = try await openVolume(try LocalObjectStore(root: scratch.path("store")), kek: kek)
        let cache = scratch.path("cache")
        let first = try await commitOnce(volume, source, cache: cache)
        try "changed".write(to: source.appendingPathComponent("new.txt"), atomically: false, encoding: .utf8)
        let second = try await commitOnce(volume, source, cache: cache)
        #expect(second.generation == 2)
        #expect(second.filesRead == 1)
        #expect(second.files == first.files + 1)
        #expect(second.bytesNew < 4096)
        let changes = try await volume.diff(1, 2)
        #expect(changes.map(\.path) == ["new.txt"] && changes.first?.kind == .added)
        let restored = scratch.path("out")
        _ = try await volume.restore(generation: 1, to: restored)
        #expect(!FileManager.default.fileExists(atPath: restored.appendingPathComponent("new.txt").path))
    }

    @Test("a wrong KEK, a missing volume and a bad name get clear errors")
    func keyErrors() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        try FileManager.default.createDirectory(at: scratch.path("src"), withIntermediateDirectories: true)
        try await commitOnce(try await openVolume(store, kek: kek), scratch.path("src"))
        let error = await #expect(throws: StoreError.self) { try await Volume.open(store: store, name: "vol", kek: .generate()) }
        #expect(error?.code == .wrongKey)
        #expect(error?.message.contains("does not match volume vol") == true)
        let missing = await #expect(throws: StoreError.self) { try await Volume.open(store: store, name: "nope", kek: kek) }
        #expect(missing?.code == .notFound)
        let invalid = await #expect(throws: StoreError.self) { try await Volume.open(store: store, name: "../x", kek: kek) }
        #expect(invalid?.code == .invalidArgument)
    }

    @Test("rotating the KEK rewraps the data key without rewriting packs")
    func rekey() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        try TreeFixture.make(at: scratch.path("src"), seed: 5, files: 10)
        let volume = try await openVolume(store, kek: kek)
        try await commitOnce(volume, scratch.path("src"))
        let packsBefore = try await store.list(prefix: "families/")
        let newKEK = KeyEncryptionKey.generate()
        try await volume.rewrap(to: newKEK)
        #expect(try await store.list(prefix: "families/") == packsBefore)
        await #expect(throws: StoreError.self) { try await Volume.open(store: store, name: "vol", kek: kek) }
        let reopened = try await Volume.open(store: store, name: "vol", kek: newKEK)
        _ = try await reopened.restore(generation: nil, to: scratch.path("out"))
        #expect(try TreeFixture.snapshot(scratch.path("out")) == TreeFixture.snapshot(scratch.path("src")))
    }
}
