import Crypto
import Foundation
import HearthControlPlane
import HearthCore

/// Seals provider keys at rest: AES-256-GCM under a per-tenant key derived with HKDF-SHA256 from
/// the server's master key (`DATA/agent-keys.key`, 32 random bytes, mode 0600, made on first
/// start) with the tenant id as `info`. A sealed key copied to another tenant's row does not open.
/// The database alone (a backup, a leaked file) reveals no key.
struct AgentKeyVault: AgentKeySealer {
    let master: SymmetricKey

    static func loadOrCreate(dataDirectory: String) throws -> AgentKeyVault {
        let path = dataDirectory + "/agent-keys.key"
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw HearthError(.internal, "the provider key store is damaged", detail: "\(path) is not 32 bytes") }
            return AgentKeyVault(master: SymmetricKey(data: data))
        }
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Data($0) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HearthError(.internal, "cannot make the provider key store", detail: "open \(path): errno \(errno)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == 32, fsync(fd) == 0 else { throw HearthError(.internal, "cannot write the provider key store", detail: "write \(path): errno \(errno)") }
        return AgentKeyVault(master: key)
    }

    func tenantKey(_ tenantId: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: master, salt: Data("hearth.agent-provider-key.v1".utf8), info: Data(tenantId.utf8), outputByteCount: 32)
    }

    /// What a sealed key is bound to: its tenant, and for a member's own key, the member.
    static func binding(tenantId: String, userId: String?) -> Data {
        guard let userId else { return Data(tenantId.utf8) }
        return Data((tenantId + "\u{0}user\u{0}" + userId).utf8)
    }

    func seal(_ key: String, tenantId: String, userId: String?) throws -> Data {
        let box = try AES.GCM.seal(Data(key.utf8), using: tenantKey(tenantId), authenticating: Self.binding(tenantId: tenantId, userId: userId))
        guard let combined = box.combined else { throw HearthError(.internal, "cannot seal the key") }
        return combined
    }

    func unseal(_ sealed: Data, tenantId: String, userId: String?) throws -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let plain = try AES.GCM.open(box, using: tenantKey(tenantId), authenticating: Self.binding(tenantId: tenantId, userId: userId))
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw HearthError(.internal, "the provider key cannot be opened", detail: "AES-GCM open failed for tenant \(tenantId)")
        }
    }
}
