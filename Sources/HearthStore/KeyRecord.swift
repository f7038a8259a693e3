import Crypto
import Foundation

/// One sealed key in the store's key hierarchy (`keys/tenants/T`, `keys/workspaces/W`): a 256-bit
/// key sealed by the key above it.
///
///     "HKR1" ‖ fingerprint of the sealing key (16 ASCII hex) ‖ nonce(12) ‖ ciphertext(32) ‖ tag(16)
///
/// Exactly 80 bytes, so the parser has one length to check. The object's own name is bound as
/// associated data: a record copied or renamed to another tenant's or workspace's slot fails
/// authentication. The fingerprint is in the clear only so that a wrong key is named as wrong
/// (`.wrongKey`) instead of surfacing as damage; changing it gains nothing, since the tag still fails.
struct KeyRecord: Equatable {
    static let magic = Array("HKR1".utf8)
    static let length = 80
    var sealerFingerprint: String
    var sealed: [UInt8]

    static func context(_ objectKey: String) -> [UInt8] { Array("hearth-key-record-v1:\(objectKey)".utf8) }

    static func seal(_ key: KeyEncryptionKey, under sealer: KeyEncryptionKey, objectKey: String) throws -> [UInt8] {
        let raw = key.key.withUnsafeBytes { Array($0) }
        let box = try AES.GCM.seal(raw, using: sealer.key, authenticating: context(objectKey))
        let bytes = magic + Array(sealer.fingerprint.utf8) + Array(box.combined!)
        precondition(bytes.count == length)
        return bytes
    }

    /// Parses the stored bytes, which anyone with write access to the store may have chosen.
    static func parse(_ bytes: [UInt8], objectKey: String) throws -> KeyRecord {
        guard bytes.count == length, Array(bytes[0..<4]) == magic else {
            throw StoreError(.damaged, "a key record is not in Hearth's format", detail: objectKey)
        }
        let fingerprint = Array(bytes[4..<20])
        guard fingerprint.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw StoreError(.damaged, "a key record is not in Hearth's format", detail: objectKey)
        }
        return KeyRecord(sealerFingerprint: String(decoding: fingerprint, as: UTF8.self), sealed: Array(bytes[20...]))
    }

    /// `what` names the record in messages ("tenant tn_x's key"); the object key stays in `detail`.
    func open(with sealer: KeyEncryptionKey, objectKey: String, what: String, sealerName: String) throws -> KeyEncryptionKey {
        guard sealer.fingerprint == sealerFingerprint else {
            throw StoreError(.wrongKey, "\(sealerName) \(sealer.fingerprint) does not open \(what) (it was sealed by \(sealerFingerprint))",
                             detail: objectKey)
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let raw = try AES.GCM.open(box, using: sealer.key, authenticating: Self.context(objectKey))
            guard raw.count == 32 else { throw StoreError(.damaged, "wrong key length") }
            return KeyEncryptionKey(SymmetricKey(data: raw))
        } catch {
            throw StoreError(.damaged, "\(what) failed authentication (moved, edited or truncated)", detail: "\(objectKey): \(error)")
        }
    }
}
