import Crypto
import Foundation

struct SHA256Hasher {
    private var hasher = SHA256()
    mutating func update(_ data: Data) { hasher.update(data: data) }
    mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }
    func hex() -> String { Hex.string(hasher.finalize()) }
}
