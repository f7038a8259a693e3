public import Crypto
import Foundation

/// The key-encryption key (KEK). It never enters the store: it only wraps each volume's data key,
/// so rotating it rewrites one small object per volume and no packs. Losing it makes every volume it
/// wraps unreadable; that is the point of encryption at rest and is documented as such.
public struct KeyEncryptionKey: Sendable {
    static let prefix = "hearth-kek-v1:"
    let key: SymmetricKey

    /// A short public fingerprint, stored next to the wrapped key, so a wrong KEK is named as wrong
    /// instead of surfacing as an authentication failure.
    public var fingerprint: String {
        let digest = SHA256.hash(data: Array("hearth-kek-fingerprint".utf8) + key.withUnsafeBytes { Array($0) })
        return Hex.string(digest.prefix(8))
    }

    public init(_ key: SymmetricKey) { self.key = key }

    public static func generate() -> KeyEncryptionKey { KeyEncryptionKey(SymmetricKey(size: .bits256)) }

    public var encoded: String {
        Self.prefix + key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
    }

    public static func load(file: String) throws -> KeyEncryptionKey {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw StoreError(.noKey, "cannot read the KEK file \(file)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix(prefix), let raw = Data(base64Encoded: String(trimmed.dropFirst(prefix.count))), raw.count == 32 else {
            throw StoreError(.noKey, "\(file) is not a Hearth KEK (make one with `hearth volume keygen --out FILE`)")
        }
        return KeyEncryptionKey(SymmetricKey(data: raw))
    }

    /// Writes a new KEK with mode 0600, refusing to overwrite an existing file.
    public static func write(_ kek: KeyEncryptionKey, to file: String) throws {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(.invalidArgument, "cannot create \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(kek.encoded.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw StoreError(.io, "cannot write \(file)")
        }
        // The directory entry too: a power cut must not lose the only copy of a key while the
        // store (on S3, say) keeps what it sealed.
        let directory = Glibc.open((file as NSString).deletingLastPathComponent.isEmpty ? "." : (file as NSString).deletingLastPathComponent,
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }
}

/// A volume's data key, which seals every pack blob, tree and generation of the volume (and of its
/// forks, which share chunks and therefore the key).
public struct DataKey: Sendable {
    let key: SymmetricKey
    /// Keys the chunker's gear table, so chunk boundaries do not reveal content to someone
    /// who can only see object sizes (the restic watermark concern).
    let chunkerSeed: [UInt8]

    init(_ key: SymmetricKey) {
        self.key = key
        self.chunkerSeed = Array(HMAC<SHA256>.authenticationCode(for: Array("hearth-chunker".utf8), using: key))
    }

    static func generate() -> DataKey { DataKey(SymmetricKey(size: .bits256)) }

    /// nonce(12) ‖ ciphertext ‖ tag(16). `context` is bound as associated data, so an object cannot be
    /// moved to another key or slot without failing authentication.
    func seal(_ plaintext: [UInt8], context: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Array(context.utf8))
        return Array(box.combined!)
    }

    func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: key, authenticating: Array(context.utf8)))
        } catch {
            throw StoreError(.damaged, "\(context) failed authentication", detail: "\(error)")
        }
    }

    static let sealOverhead = 28
}

/// The stored form of a data key: wrapped by the KEK, plus what identifies it.
struct WrappedKeyFile: Codable {
    var version: Int = 1
    /// Volumes that share chunks (a volume and its forks) share a family, a data key and one pack space.
    var family: String
    var kekFingerprint: String
    var wrapped: String
    var createdAt: Date
    var forkedFrom: ForkOrigin?

    struct ForkOrigin: Codable, Equatable {
        var volume: String
        var generation: UInt64
    }

    static func wrap(_ dataKey: DataKey, family: String, kek: KeyEncryptionKey, forkedFrom: ForkOrigin? = nil) throws -> WrappedKeyFile {
        let raw = dataKey.key.withUnsafeBytes { Array($0) }
        let box = try AES.GCM.seal(raw, using: kek.key, authenticating: Array("hearth-data-key:\(family)".utf8))
        return WrappedKeyFile(family: family, kekFingerprint: kek.fingerprint, wrapped: box.combined!.base64EncodedString(),
                              createdAt: Date(), forkedFrom: forkedFrom)
    }

    func unwrap(with kek: KeyEncryptionKey, volume: String) throws -> DataKey {
        guard kek.fingerprint == kekFingerprint else {
            throw StoreError(.wrongKey, "the KEK does not match volume \(volume) (KEK \(kek.fingerprint), volume wants \(kekFingerprint))")
        }
        do {
            guard let data = Data(base64Encoded: wrapped) else { throw StoreError(.damaged, "bad base64") }
            let box = try AES.GCM.SealedBox(combined: data)
            let raw = try AES.GCM.open(box, using: kek.key, authenticating: Array("hearth-data-key:\(family)".utf8))
            return DataKey(SymmetricKey(data: raw))
        } catch {
            throw StoreError(.damaged, "the data key of volume \(volume) failed authentication", detail: "\(error)")
        }
    }
}
