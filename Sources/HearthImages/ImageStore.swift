import Crypto
import Foundation
import HearthCore
import HearthRuntime
import Logging

/// Root filesystems, content-addressed under `DATA/images/sha256-<digest>/rootfs` and shared
/// read-only by every workspace that uses them. Named references live in `DATA/images/refs/`.
public struct ImageStore: Sendable {
    public static let baseReference = "base"
    /// What the base image holds. Changing the list changes the recipe digest and so rebuilds it.
    public static let basePackages = [
        "bash", "coreutils", "git", "curl", "ca-certificates", "python3", "sqlite3", "procps", "iproute2",
        "vim-tiny", "nano", "less", "findutils", "tar",
    ]
    public static let baseSuite = "bookworm"

    public let root: String
    let logger: Logger

    public init(root: String, logger: Logger) {
        self.root = root
        self.logger = logger
    }

    /// Resolves `base`, `sha256:<digest>`, or a path to an OCI image layout (directory or tar).
    public func resolve(_ reference: String, progress: @Sendable (String) -> Void = { _ in }) async throws -> ImageRef {
        let ref = reference.isEmpty ? Self.baseReference : reference
        if ref == Self.baseReference { return try await base(progress: progress) }
        if ref.hasPrefix("sha256:") {
            let digest = String(ref.dropFirst("sha256:".count))
            guard digest.allSatisfy(\.isHexDigit), FileManager.default.fileExists(atPath: rootfs(digest)) else {
                throw HearthError(.notFound, "no image \(ref)")
            }
            return ImageRef(id: ref, rootfs: rootfs(digest))
        }
        if ref.hasPrefix("/") || ref.hasPrefix(".") || ref.hasPrefix("oci:") {
            return try await importOCI(path: ref.hasPrefix("oci:") ? String(ref.dropFirst(4)) : ref, progress: progress)
        }
        throw HearthError(.invalidArgument, "unknown image \(ref): use base, sha256:<digest>, or a path to an OCI image layout")
    }

    /// The Debian base image, built once with mmdebstrap.
    public func base(progress: @Sendable (String) -> Void = { _ in }) async throws -> ImageRef {
        let recipe = Self.baseRecipeDigest()
        let refFile = "\(root)/refs/\(Self.baseReference)-\(recipe.prefix(16))"
        if let digest = try? String(contentsOfFile: refFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           FileManager.default.fileExists(atPath: rootfs(digest) + "/bin") {
            return ImageRef(id: "sha256:\(digest)", rootfs: rootfs(digest))
        }
        guard let mmdebstrap = HostCommand.which("mmdebstrap") else {
            throw HearthError(.runtimeUnavailable, "cannot build the base image: mmdebstrap is not installed")
        }
        try FileManager.default.createDirectory(atPath: "\(root)/tmp", withIntermediateDirectories: true)
        let tarball = "\(root)/tmp/base-\(UUID().uuidString).tar"
        defer { try? FileManager.default.removeItem(atPath: tarball) }
        progress("building the base image (Debian \(Self.baseSuite), \(Self.basePackages.count) packages)…")
        logger.info("building base image", metadata: ["image.recipe": "\(recipe)"])
        let result = try await HostCommand.run(
            [mmdebstrap, "--variant=minbase", "--mode=root", "--include=" + Self.basePackages.joined(separator: ","),
             "--customize-hook=mkdir -p \"$1/workspace\"", Self.baseSuite, tarball, "http://deb.debian.org/debian"],
            timeout: .seconds(1200))
        guard result.succeeded else {
            throw HearthError(.runtimeFailed, "the base image could not be built", detail: String(result.stderr.suffix(1000)))
        }
        progress("unpacking the base image…")
        let digest = try Self.sha256(file: tarball)
        try await unpackTar(tarball, digest: digest)
        try FileManager.default.createDirectory(atPath: "\(root)/refs", withIntermediateDirectories: true)
        try digest.write(toFile: refFile, atomically: true, encoding: .utf8)
        progress("base image ready: sha256:\(digest.prefix(12))")
        return ImageRef(id: "sha256:\(digest)", rootfs: rootfs(digest))
    }

    /// Unpacks an OCI image layout with umoci. The image's manifest digest is its address.
    public func importOCI(path: String, progress: @Sendable (String) -> Void = { _ in }) async throws -> ImageRef {
        var layout = URL(fileURLWithPath: path).standardizedFileURL.path
        var cleanup: String?
        defer { if let cleanup { try? FileManager.default.removeItem(atPath: cleanup) } }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: layout, isDirectory: &isDirectory) else {
            throw HearthError(.notFound, "no OCI image at \(path)")
        }
        if !isDirectory.boolValue {
            let dir = "\(root)/tmp/oci-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            cleanup = dir
            let untar = try await HostCommand.run(["/bin/tar", "-xf", layout, "-C", dir])
            guard untar.succeeded else { throw HearthError(.invalidArgument, "\(path) is not a readable tar", detail: untar.stderr) }
            layout = dir
        }
        guard let indexData = FileManager.default.contents(atPath: layout + "/index.json"),
              let index = try? JSONSerialization.jsonObject(with: indexData) as? [String: Any],
              let manifests = index["manifests"] as? [[String: Any]], let manifest = manifests.first,
              let manifestDigest = manifest["digest"] as? String, manifestDigest.hasPrefix("sha256:")
        else {
            throw HearthError(.invalidArgument, "\(path) is not an OCI image layout (no index.json with a manifest)")
        }
        let digest = String(manifestDigest.dropFirst("sha256:".count))
        if FileManager.default.fileExists(atPath: rootfs(digest)) { return ImageRef(id: manifestDigest, rootfs: rootfs(digest)) }
        guard let umoci = HostCommand.which("umoci") else {
            throw HearthError(.runtimeUnavailable, "cannot unpack OCI images: umoci is not installed")
        }
        let tag = ((manifest["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"]) ?? ""
        let bundle = "\(root)/tmp/unpack-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        progress("unpacking OCI image \(manifestDigest.prefix(19))…")
        let unpack = try await HostCommand.run([umoci, "unpack", "--image", tag.isEmpty ? layout : "\(layout):\(tag)", bundle],
                                               timeout: .seconds(600))
        guard unpack.succeeded else {
            throw HearthError(.invalidArgument, "the OCI image could not be unpacked", detail: unpack.stderr)
        }
        try FileManager.default.createDirectory(atPath: "\(root)/sha256-\(digest)", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(bundle)/rootfs/workspace", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: "\(bundle)/rootfs", toPath: rootfs(digest))
        return ImageRef(id: manifestDigest, rootfs: rootfs(digest))
    }

    func rootfs(_ digest: String) -> String { "\(root)/sha256-\(digest)/rootfs" }

    private func unpackTar(_ tarball: String, digest: String) async throws {
        let target = rootfs(digest)
        if FileManager.default.fileExists(atPath: target + "/bin") { return }
        let staging = "\(root)/tmp/rootfs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let result = try await HostCommand.run(["/bin/tar", "--numeric-owner", "-xpf", tarball, "-C", staging], timeout: .seconds(600))
        guard result.succeeded else {
            try? FileManager.default.removeItem(atPath: staging)
            throw HearthError(result.stderr.contains("No space") ? .noSpace : .runtimeFailed,
                              "the base image could not be unpacked", detail: result.stderr)
        }
        try FileManager.default.createDirectory(atPath: "\(root)/sha256-\(digest)", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: staging, toPath: target)
    }

    static func baseRecipeDigest() -> String {
        let recipe = "mmdebstrap minbase \(baseSuite) " + basePackages.joined(separator: ",") + " workspace-dir"
        return SHA256.hash(data: Data(recipe.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func sha256(file: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw HearthError(.internal, "cannot read \(file)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
