import Foundation
@testable import HearthStore
import Testing

/// Stored bytes are hostile: whoever can write the bucket can change any object, even without the
/// KEK. Lengths outside the sealed bytes are checked before anything is allocated, and every
/// decoder of stored bytes refuses garbage without trapping.
@Suite("Hostile stored bytes")
struct StoredBytesHostileTests {
    let kek = KeyEncryptionKey.generate()

    static func peakRSS() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    /// A WAL segment object is `u32 length ‖ sealed blob`; the length is not sealed. A forged
    /// `UInt32.max` once made a restore allocate 4 GiB before authentication caught anything.
    @Test func aWALSegmentsForgedLengthPrefixIsRefusedBeforeAllocating() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        let volume = try await openVolume(store, kek: kek)
        // Compressible (zstd) and incompressible (stored) segments take different decode paths.
        var rng = SplitMix(seed: 14)
        let random = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for plain in [[UInt8](repeating: 0x42, count: 256 * 1024), random] {
            let id = try await volume.writeSegment(plain)
            #expect(try await volume.readSegment(id) == plain)
            let key = StoreLayout.walSegment(volume.family, id)
            var object = try await store.get(key).bytes
            for forged: UInt32 in [UInt32.max, UInt32(plain.count + 1), 0] {
                withUnsafeBytes(of: forged.bigEndian) { object.replaceSubrange(0..<4, with: $0) }
                try await store.put(key, object, condition: .always)
                let before = Self.peakRSS()
                let error = await #expect(throws: StoreError.self) { _ = try await volume.readSegment(id) }
                #expect(error?.code == .damaged)
                #expect(Self.peakRSS() - before < 512 << 20, "a forged length must not be allocated")
            }
        }
    }

    /// The listing and the lease are not sealed: a generation key numbered 2^64-1 and a lease whose
    /// epoch is 2^64-1 are damage to report, not numbers to count to or add one to.
    @Test func plantedGenerationKeysAndAForgedLeaseEpochDoNotTrap() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        let source = scratch.path("src")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let volume = try await openVolume(store, kek: kek)
        try await commitOnce(volume, source)
        try await store.put(StoreLayout.generation(volume.name, UInt64.max), [1, 2, 3], condition: .always)
        let report = try await volume.verify()
        #expect(report.damage.contains { $0.contains("are missing") }, "\(report.damage)")
        #expect(report.damage.count < 10)
        try await store.delete(StoreLayout.generation(volume.name, UInt64.max))

        let lease = Lease(epoch: UInt64.max, owner: "someone", expiresAt: Date(timeIntervalSince1970: 0), released: true)
        try await store.put(StoreLayout.lease(volume.name), lease.encoded(), condition: .always)
        let error = await #expect(throws: StoreError.self) { try await VolumeWriter(volume: volume).acquire() }
        #expect(error?.code == .damaged)
    }

    @Test func blobDecodingChecksTheLengthAgainstTheSealedBytes() throws {
        let plain = [UInt8](repeating: 7, count: 100_000)
        let encoded = plain.withUnsafeBytes { PackFormat.encode($0) }
        #expect(encoded.first == 2)
        #expect(try PackFormat.decode(encoded, rawLength: plain.count) == plain)
        for wrong in [plain.count - 1, plain.count + 1, Int(UInt32.max), -1, Int.max] {
            #expect(throws: StoreError.self) { _ = try PackFormat.decode(encoded, rawLength: wrong) }
        }
        let stored: [UInt8] = [0, 1, 2, 3]
        #expect(try PackFormat.decode(stored, rawLength: 3) == [1, 2, 3])
        #expect(throws: StoreError.self) { _ = try PackFormat.decode(stored, rawLength: 4) }
    }

    /// Random and mutated bytes through every decoder of stored bytes: no trap, and what decodes
    /// stays within the input's bounds.
    @Test func storedBytesDecodersSurviveFuzzing() throws {
        var rng = SplitMix(seed: 0x4845_4152_5448)
        func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        func mutate(_ input: [UInt8]) -> [UInt8] {
            var out = input
            switch rng.next() % 4 {
            case 0 where !out.isEmpty: out.removeLast(Int(rng.next() % UInt64(out.count)))
            case 1: out += bytes(Int(rng.next() % 64))
            default:
                for _ in 0..<(1 + rng.next() % 4) where !out.isEmpty {
                    out[Int(rng.next() % UInt64(out.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            return out
        }
        let id = BlobID(hashing: [1, 2, 3])
        let tree = Tree(entries: [
            Tree.Entry(name: Array("a".utf8), kind: .file, mode: 0o644, size: 3, mtimeNanoseconds: 5, chunks: [id, id]),
            Tree.Entry(name: Array("b".utf8), kind: .symlink, mode: 0o777, size: 0, mtimeNanoseconds: -1, symlinkTarget: Array("../x".utf8)),
            Tree.Entry(name: Array("c".utf8), kind: .directory, mode: 0o755, size: 0, mtimeNanoseconds: 0, subtree: id),
        ]).encoded()
        let index = BlobIndex.encode([(id: "p1", entries: [PackBuilder.Entry(kind: .data, id: id, offset: 0, length: 40, rawLength: 3)])])
        var segmentHeader = WALSegment.magic
        segmentHeader += [0, 0, 2, 0, 1] + bytes(4 * 4) + [0, 0, 0, 2]
        let key = DataKey.generate()
        var builder = PackBuilder()
        builder.append(kind: .data, id: id, sealed: bytes(40), rawLength: 3)
        let pack = try builder.finish(key: key).bytes

        for iteration in 0..<20_000 {
            let fresh = iteration % 5 == 0
            if let decoded = try? Tree(decoding: fresh ? bytes(Int(rng.next() % 300)) : mutate(tree)) {
                #expect(decoded.entries.count <= tree.count + 64)
            }
            if let decoded = try? BlobIndex.decode(fresh ? bytes(Int(rng.next() % 200)) : mutate(index)) {
                #expect(decoded.count <= index.count + 64)
            }
            let segment = fresh ? bytes(Int(rng.next() % 1200)) : mutate(segmentHeader + bytes(Int(rng.next() % 2) * (24 + 512)))
            if let decoded = try? WALSegment.decode(segment) {
                #expect(decoded.frames.count == segment.count - WALSegment.headerSize)
            }
            _ = try? PackBuilder.readHeader(fresh ? bytes(Int(rng.next() % 100)) : mutate(pack), key: key)
            let blob = [UInt8(rng.next() % 4)] + bytes(Int(rng.next() % 64))
            if let plain = try? PackFormat.decode(blob, rawLength: Int(rng.next() % 128)) { #expect(plain.count < 128) }
            _ = try? PackFormat.decode(mutate([UInt8(2)] + Array(tree.withUnsafeBytes { PackFormat.encode($0) }.dropFirst())), rawLength: Int(truncatingIfNeeded: rng.next()))
        }
    }
}
