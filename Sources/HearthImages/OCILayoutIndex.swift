public import Foundation
public import HearthCore

/// The one thing Hearth reads from an OCI layout's `index.json`: which manifest to unpack. The
/// file comes from an image, so it is bounded, strictly typed, and every digest is checked to be
/// exactly `sha256:` and 64 lowercase hex digits before it names any path.
public struct OCILayoutIndex: Sendable, Equatable {
    public static let maximumSize = 1 << 20
    public static let manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let dockerManifestMediaType = "application/vnd.docker.distribution.manifest.v2+json"

    /// The manifest's digest: 64 lowercase hex digits, without `sha256:`.
    public var manifestDigest: String
    /// The manifest's declared size in bytes.
    public var manifestSize: Int
    public var mediaType: String

    struct Document: Decodable {
        struct Descriptor: Decodable {
            var mediaType: String?
            var digest: String
            var size: Int64
        }
        var schemaVersion: Int?
        var manifests: [Descriptor]
    }

    /// The image's manifest: the only one, or, of several, the first that is an image manifest.
    public static func parse(_ data: [UInt8]) throws -> OCILayoutIndex {
        guard data.count <= maximumSize else { throw HearthError(.invalidArgument, "the image's index.json is larger than 1 MiB") }
        guard let document = try? JSONDecoder().decode(Document.self, from: Data(data)) else {
            throw HearthError(.invalidArgument, "the image's index.json is not an OCI image index")
        }
        guard let manifest = document.manifests.first(where: {
            $0.mediaType == nil || $0.mediaType == manifestMediaType || $0.mediaType == dockerManifestMediaType
        }) else {
            throw HearthError(.invalidArgument, "the image's index.json names no image manifest")
        }
        guard let digest = sha256Hex(manifest.digest) else {
            throw HearthError(.invalidArgument, "the image's manifest digest is not sha256:<64 hex digits>")
        }
        guard manifest.size > 0, manifest.size <= maximumSize else {
            throw HearthError(.invalidArgument, "the image's manifest size is out of range")
        }
        return OCILayoutIndex(manifestDigest: digest, manifestSize: Int(manifest.size), mediaType: manifest.mediaType ?? manifestMediaType)
    }

    /// The 64 hex digits of `sha256:<64 lowercase hex>`, or nil for anything else.
    public static func sha256Hex(_ digest: String) -> String? {
        guard digest.hasPrefix("sha256:") else { return nil }
        let hex = digest.dropFirst("sha256:".count)
        return isDigestHex(hex) ? String(hex) : nil
    }

    /// Exactly 64 of `0-9a-f`.
    public static func isDigestHex<S: StringProtocol>(_ hex: S) -> Bool {
        hex.utf8.count == 64 && hex.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// An index naming exactly `digest`, tagged `tag`: what umoci is asked to unpack, so it can only
    /// unpack the manifest whose bytes were verified.
    public func pinned(tag: String) -> [UInt8] {
        let text = #"{"schemaVersion":2,"manifests":[{"mediaType":"\#(mediaType)","digest":"sha256:\#(manifestDigest)","size":\#(manifestSize),"annotations":{"org.opencontainers.image.ref.name":"\#(tag)"}}]}"#
        return Array(text.utf8)
    }
}
