import Crypto
import Foundation

/// What one core does to every byte a commit reads, each stage timed alone on the same buffer and
/// then all together, as `cryptsetup benchmark` does for ciphers: FastCDC cutting, SHA-256 chunk
/// ids, the compression trial, AES-256-GCM sealing. Random bytes are the worst case (the deflate
/// trial runs and is thrown away); text-like bytes show compression's cost when it pays.
public struct PipelineThroughput: Codable, Sendable {
    public var content: String
    public var bytes: Int
    public var chunks: Int
    public var chunking: Double
    public var sha256: Double
    public var encode: Double
    public var seal: Double
    public var pipeline: Double

    enum CodingKeys: String, CodingKey {
        case content, bytes, chunks, chunking = "chunking_mib_s", sha256 = "sha256_mib_s", encode = "compress_mib_s",
             seal = "seal_mib_s", pipeline = "pipeline_mib_s"
    }
}

public enum PipelineBenchmark {
    public enum Content: String, Sendable, CaseIterable { case random, text }

    public static func run(megabytes: Int, content: Content) throws -> PipelineThroughput {
        let data = makeData(bytes: megabytes << 20, content: content)
        let key = DataKey.generate()
        let chunker = FastCDC(seed: key.chunkerSeed)
        return try data.withUnsafeBytes { buffer in
            var cuts: [Range<Int>] = []
            let chunking = time(buffer.count) {
                var offset = 0
                while offset < buffer.count {
                    let length = chunker.cut(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
                    cuts.append(offset..<offset + length)
                    offset += length
                }
            }
            var ids: [BlobID] = []
            let sha256 = time(buffer.count) { ids = cuts.map { BlobID(hashing: UnsafeRawBufferPointer(rebasing: buffer[$0])) } }
            var encoded: [[UInt8]] = []
            let encode = time(buffer.count) { encoded = cuts.map { PackFormat.encode(UnsafeRawBufferPointer(rebasing: buffer[$0])) } }
            let seal = try time(buffer.count) {
                for (bytes, id) in zip(encoded, ids) { _ = try key.seal(bytes, context: PackFormat.blobContext(id)) }
            }
            let pipeline = try time(buffer.count) {
                var offset = 0
                while offset < buffer.count {
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[offset...])
                    let length = chunker.cut(chunk)
                    let piece = UnsafeRawBufferPointer(rebasing: chunk[chunk.startIndex..<chunk.startIndex + length])
                    _ = try key.sealBlob(piece, id: BlobID(hashing: piece))
                    offset += length
                }
            }
            return PipelineThroughput(content: content.rawValue, bytes: buffer.count, chunks: cuts.count, chunking: chunking,
                                      sha256: sha256, encode: encode, seal: seal, pipeline: pipeline)
        }
    }

    /// MiB/s of `body` over `bytes` bytes.
    private static func time(_ bytes: Int, _ body: () throws -> Void) rethrows -> Double {
        let started = ContinuousClock.now
        try body()
        return rate(bytes, since: started)
    }

    private static func rate(_ bytes: Int, since started: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(bytes) / 1_048_576 / seconds
    }

    /// Random bytes from a SplitMix sequence, or lines of words from a small vocabulary (about 3:1
    /// under deflate, like source code).
    static func makeData(bytes: Int, content: Content) -> [UInt8] {
        var random = SplitMix(seed: 0x5EED)
        func next() -> UInt64 { random.next() }
        var out = [UInt8]()
        out.reserveCapacity(bytes + 64)
        switch content {
        case .random:
            while out.count < bytes { withUnsafeBytes(of: next()) { out.append(contentsOf: $0) } }
        case .text:
            let words = ["let", "var", "func", "return", "if", "else", "for", "in", "guard", "self", "try", "await", "async", "throws",
                         "struct", "class", "enum", "case", "switch", "import", "public", "private", "static", "count", "value",
                         "index", "buffer", "result", "error", "data", "path", "name", "0", "1", "=", "==", "{", "}", "(", ")"]
            while out.count < bytes {
                let n = next()
                out.append(contentsOf: Array(repeating: 32, count: Int(n % 4) * 4))
                for k in 0..<Int((n >> 8) % 9 + 2) { out.append(contentsOf: words[Int((n >> UInt64(k * 5 + 16)) % UInt64(words.count))].utf8); out.append(32) }
                out.append(contentsOf: "x\(n % 1000)\n".utf8)
            }
        }
        return Array(out.prefix(bytes))
    }
}

/// SplitMix64: a tiny, fast, seeded generator for benchmark and test data (not for keys).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
