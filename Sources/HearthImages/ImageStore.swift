import Crypto
public import Foundation
public import HearthCore
public import HearthRuntime
public import Logging

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
    /// Where the operator puts OCI layouts (directories or tars) to import, named by `oci:NAME`.
    public let importDirectory: String?
    /// The base image's build, shared by every copy of this store.
    public let baseBuild: BaseImageBuild
    let logger: Logger

    public init(root: String, importDirectory: String? = nil, baseBuild: BaseImageBuild = BaseImageBuild(), logger: Logger) {
        self.root = root
        self.importDirectory = importDirectory
        self.baseBuild = baseBuild
        self.logger = logger
    }

    /// Resolves `base`, `sha256:<digest>` (an image the caller's tenant may use) or, for the
    /// operator only, `oci:NAME` (a layout in the import directory, imported for the operator's
    /// tenant). Nothing a tenant sends names a host path.
    public func resolve(_ reference: String, for caller: ImageCaller,
                        progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> ImageRef {
        let ref = reference.isEmpty ? Self.baseReference : reference
        if ref == Self.baseReference { return try await base(progress: progress) }
        if ref.hasPrefix("sha256:") {
            guard let digest = OCILayoutIndex.sha256Hex(ref), isUnpacked(digest), isVisible(digest, to: caller) else {
                throw HearthError(.notFound, "no image \(ref.prefix(80))")
            }
            return ImageRef(id: ref, rootfs: rootfs(digest))
        }
        if ref.hasPrefix("oci:") {
            guard caller.isOperator else {
                throw HearthError(.forbidden, "only the operator imports images; ask for one by its sha256: digest")
            }
            let image = try await importOCI(named: String(ref.dropFirst(4)), progress: progress)
            try grant(image, to: caller.tenantId)
            return image
        }
        throw HearthError(.invalidArgument, "unknown image \(ref.prefix(80)): use base or sha256:<digest> (the operator imports oci:NAME from the import directory)")
    }

    /// The Debian base image, built once with mmdebstrap. Concurrent callers share one build
    /// (`baseBuild`), which also records its progress for `GET /v1/images/base`.
    public func base(progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> ImageRef {
        if let built = builtBase() {
            baseBuild.found(built)
            return built
        }
        return try await baseBuild.run { step in
            try await self.buildBase { message in
                step(message)
                progress(message)
            }
        }
    }

    /// The base image of the current recipe, if it is built.
    public func builtBaseImage() -> ImageRef? { builtBase() }

    func builtBase() -> ImageRef? {
        let refFile = "\(root)/refs/\(Self.baseReference)-\(Self.baseRecipeDigest().prefix(16))"
        guard let digest = try? String(contentsOfFile: refFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
              OCILayoutIndex.isDigestHex(digest), FileManager.default.fileExists(atPath: rootfs(digest) + "/bin") else { return nil }
        return ImageRef(id: "sha256:\(digest)", rootfs: rootfs(digest))
    }

    private func buildBase(progress: @escaping @Sendable (String) -> Void) async throws -> ImageRef {
        if let built = builtBase() { return built }
        let recipe = Self.baseRecipeDigest()
        let refFile = "\(root)/refs/\(Self.baseReference)-\(recipe.prefix(16))"
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

    /// Only ever called with a checked 64-hex digest, so the path stays under `root`.
    func rootfs(_ digest: String) -> String {
        precondition(OCILayoutIndex.isDigestHex(digest))
        return "\(root)/sha256-\(digest)/rootfs"
    }

    /// The rootfs directory of the image `id` (`sha256:<64 hex>`), or nil for anything else.
    public func rootfs(of id: String) -> String? { OCILayoutIndex.sha256Hex(id).map(rootfs) }

    /// Unpacked by this version's verified import (its `verified` marker) or the base image's build.
    /// Entries from before verification existed are not trusted: they are unpacked again.
    func isUnpacked(_ digest: String) -> Bool {
        var info = stat()
        // lstat: the rootfs is a directory Hearth made, never a link.
        guard lstat(rootfs(digest), &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return false }
        return lstat("\(root)/sha256-\(digest)/verified", &info) == 0 || isBase(digest)
    }

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

    public static func baseRecipeDigest() -> String {
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
