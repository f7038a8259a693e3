import Crypto
public import Foundation
public import HearthCore
public import HearthRuntime

/// Images are scoped per tenant: an imported image is visible to the tenants it was granted to,
/// or to everyone once the operator publishes it. The base image is everyone's. Grants are marker
/// files next to the rootfs (`sha256-D/tenants/<sha256 of the tenant id>`, `sha256-D/published`).
extension ImageStore {
    public func isVisible(_ digest: String, to caller: ImageCaller) -> Bool {
        guard OCILayoutIndex.isDigestHex(digest) else { return false }
        if caller.isOperator || isBase(digest) { return true }
        let fm = FileManager.default
        return fm.fileExists(atPath: "\(root)/sha256-\(digest)/published") || fm.fileExists(atPath: marker(digest, caller.tenantId))
    }

    /// Lets `tenantId` use `image`.
    public func grant(_ image: ImageRef, to tenantId: String) throws {
        guard let digest = OCILayoutIndex.sha256Hex(image.id) else { throw HearthError(.invalidArgument, "not an image digest") }
        try FileManager.default.createDirectory(atPath: "\(root)/sha256-\(digest)/tenants", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: marker(digest, tenantId), contents: Data())
    }

    /// Lets every tenant use `image`.
    public func publish(_ image: ImageRef) throws {
        guard let digest = OCILayoutIndex.sha256Hex(image.id) else { throw HearthError(.invalidArgument, "not an image digest") }
        FileManager.default.createFile(atPath: "\(root)/sha256-\(digest)/published", contents: Data())
    }

    /// The digests of unpacked images `caller` may use.
    public func visibleImages(to caller: ImageCaller) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.compactMap { entry -> String? in
            guard entry.hasPrefix("sha256-") else { return nil }
            let digest = String(entry.dropFirst("sha256-".count))
            guard OCILayoutIndex.isDigestHex(digest), isUnpacked(digest), isVisible(digest, to: caller) else { return nil }
            return digest
        }.sorted()
    }

    func isBase(_ digest: String) -> Bool {
        let refs = (try? FileManager.default.contentsOfDirectory(atPath: root + "/refs")) ?? []
        return refs.contains { ref in
            ref.hasPrefix(Self.baseReference + "-") &&
                (try? String(contentsOfFile: "\(root)/refs/\(ref)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == digest
        }
    }

    private func marker(_ digest: String, _ tenantId: String) -> String {
        "\(root)/sha256-\(digest)/tenants/" + Self.hex(SHA256.hash(data: Data(tenantId.utf8)))
    }
}
