import Crypto

/// The SHA-256 of a blob's plaintext: a chunk of file data or an encoded tree.
public struct BlobID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(hashing bytes: UnsafeRawBufferPointer) {
        self.init(digest: SHA256.hash(data: bytes))
    }

    public init(hashing bytes: [UInt8]) {
        self.init(digest: SHA256.hash(data: bytes))
    }

    init(digest: SHA256.Digest) {
        var words: [UInt64] = [0, 0, 0, 0]
        digest.withUnsafeBytes { raw in
            for i in 0..<4 { words[i] = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        }
        (w0, w1, w2, w3) = (words[0], words[1], words[2], words[3])
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (i, byte) in bytes.enumerated() { words[i / 8] = words[i / 8] << 8 | UInt64(byte) }
        (w0, w1, w2, w3) = (words[0], words[1], words[2], words[3])
    }

    public init?(hex: String) {
        var words: [UInt64] = [0, 0, 0, 0]
        var count = 0
        for digit in hex.utf8 {
            guard count < 64, let value = Hex.value(digit) else { return nil }
            words[count / 16] = words[count / 16] << 4 | UInt64(value)
            count += 1
        }
        guard count == 64 else { return nil }
        (w0, w1, w2, w3) = (words[0], words[1], words[2], words[3])
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [w0, w1, w2, w3] { for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) } }
        return out
    }

    public var hex: String { Hex.string(bytes) }

    public var description: String { String(hex.prefix(12)) }

    public static func < (a: BlobID, b: BlobID) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = BlobID(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a blob id"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
