import Crypto
public import Foundation
public import HearthCore
public import HearthRuntime
import Logging

/// Who asks for an image: visibility is per tenant, and only the operator imports.
public struct ImageCaller: Sendable {
    public var tenantId: String
    /// The admin of the default tenant: may import from the import directory and sees every image.
    public var isOperator: Bool

    public init(tenantId: String, isOperator: Bool) {
        self.tenantId = tenantId
        self.isOperator = isOperator
    }
}

extension ImageStore {
    /// A name in the import directory: one path component of letters, digits, `.`, `_`, `-`.
    static func isImportName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && name.first != "." &&
            name.utf8.allSatisfy { $0 < 0x80 && (Character(UnicodeScalar($0)).isLetter || Character(UnicodeScalar($0)).isNumber || "._-".utf8.contains($0)) }
    }

    /// Imports the OCI layout `name` (a directory or a tar) from the import directory. The manifest
    /// is read and its SHA-256 checked against the digest the index names, and umoci is handed an
    /// index naming only that manifest, so the content address is the content unpacked.
    public func importOCI(named name: String, progress: @Sendable (String) -> Void = { _ in }) async throws -> ImageRef {
        guard let importDirectory else {
            throw HearthError(.forbidden, "image imports are off: start the server with --image-import-dir")
        }
        guard Self.isImportName(name) else {
            throw HearthError(.invalidArgument, "an image name is one file or directory name in the import directory")
        }
        var info = stat()
        guard lstat(importDirectory + "/" + name, &info) == 0 else { throw HearthError(.notFound, "no OCI image \(name) in the import directory") }
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(root)/tmp", withIntermediateDirectories: true)
        let scratch = "\(root)/tmp/oci-\(UUID().uuidString)"
        try fm.createDirectory(atPath: scratch + "/layout", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: scratch) }
        let layout: String
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            layout = importDirectory + "/" + name
        case S_IFREG:
            let untar = try await HostCommand.run(["/bin/tar", "--no-same-owner", "--no-same-permissions", "-xf",
                                                   importDirectory + "/" + name, "-C", scratch + "/layout"], timeout: .seconds(600))
            guard untar.succeeded else { throw HearthError(.invalidArgument, "\(name) is not a readable tar", detail: untar.stderr) }
            layout = scratch + "/layout"
        default:
            throw HearthError(.invalidArgument, "\(name) is neither an OCI layout directory nor a tar")
        }
        let index: OCILayoutIndex
        let manifest: [UInt8]
        do {
            index = try OCILayoutIndex.parse(try Beneath.read("index.json", beneath: layout, limit: OCILayoutIndex.maximumSize))
            manifest = try Beneath.read("blobs/sha256/\(index.manifestDigest)", beneath: layout, limit: OCILayoutIndex.maximumSize)
        } catch let refusal as Beneath.Refusal {
            throw HearthError(.invalidArgument, "\(name) is not an OCI image layout (no index.json with a manifest)", detail: "\(refusal)")
        }
        guard Self.hex(SHA256.hash(data: manifest)) == index.manifestDigest, manifest.count == index.manifestSize else {
            throw HearthError(.invalidArgument, "the image's manifest does not match its digest")
        }
        let digest = index.manifestDigest
        let image = ImageRef(id: "sha256:\(digest)", rootfs: rootfs(digest))
        try Self.requirePlainBlobs(layout)
        if isUnpacked(digest) { return image }
        guard let umoci = HostCommand.which("umoci") else {
            throw HearthError(.runtimeUnavailable, "cannot unpack OCI images: umoci is not installed")
        }
        // A private layout whose index names only the verified manifest; the blobs are the image's.
        let pinned = scratch + "/pinned"
        try fm.createDirectory(atPath: pinned, withIntermediateDirectories: true)
        try Data(index.pinned(tag: "hearth")).write(to: URL(fileURLWithPath: pinned + "/index.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: pinned + "/oci-layout"))
        try fm.createSymbolicLink(atPath: pinned + "/blobs", withDestinationPath: layout + "/blobs")
        let bundle = scratch + "/bundle"
        progress("unpacking OCI image sha256:\(digest.prefix(12))…")
        let unpack = try await HostCommand.run([umoci, "unpack", "--image", pinned + ":hearth", bundle], timeout: .seconds(600))
        guard unpack.succeeded else {
            throw HearthError(.invalidArgument, "the OCI image could not be unpacked", detail: unpack.stderr)
        }
        do {
            try Beneath.makeDirectory("workspace", beneath: bundle + "/rootfs")
        } catch {
            throw HearthError(.invalidArgument, "the OCI image could not be unpacked", detail: "/workspace: \(error)")
        }
        try fm.createDirectory(atPath: "\(root)/sha256-\(digest)", withIntermediateDirectories: true)
        if !isUnpacked(digest) {
            // An unverified entry from an older version is moved aside, never reused.
            if fm.fileExists(atPath: rootfs(digest)) { try fm.moveItem(atPath: rootfs(digest), toPath: scratch + "/unverified") }
            try fm.moveItem(atPath: bundle + "/rootfs", toPath: rootfs(digest))
            fm.createFile(atPath: "\(root)/sha256-\(digest)/verified", contents: Data(digest.utf8))
        }
        logger.info("imported an OCI image", metadata: ["image.id": "\(image.id)", "image.source": "\(name)"])
        return image
    }

    /// The blobs umoci will read are regular files in real directories: a link or a device there
    /// could point the root-run unpack at a host file, `/dev/zero` or a FIFO.
    static func requirePlainBlobs(_ layout: String) throws {
        var info = stat()
        for dir in [layout + "/blobs", layout + "/blobs/sha256"] {
            guard lstat(dir, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw HearthError(.invalidArgument, "the image's blobs are not a plain directory")
            }
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256")) ?? []
        for name in names {
            guard OCILayoutIndex.isDigestHex(name), lstat(layout + "/blobs/sha256/" + name, &info) == 0,
                  (info.st_mode & S_IFMT) == S_IFREG else {
                throw HearthError(.invalidArgument, "the image holds a blob that is not a plain file")
            }
        }
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in digest { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
