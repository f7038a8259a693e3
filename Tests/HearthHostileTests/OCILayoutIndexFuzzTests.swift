import Foundation
import HearthImages
import HearthServerTestKit
import Testing

/// `index.json` comes from an image: the parser never traps, and whatever it accepts names a
/// digest of exactly 64 lowercase hex digits and a bounded size.
@Suite struct OCILayoutIndexFuzzTests {
    static let valid = Array(#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945","size":348}]}"#.utf8)

    @Test func aValidIndexParses() throws {
        let index = try OCILayoutIndex.parse(Self.valid)
        #expect(index.manifestDigest == "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945")
        #expect(index.manifestSize == 348)
    }

    @Test func digestsThatWouldNameAPathAreRefused() {
        let hex = "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
        for digest in ["sha256:\(hex)/../../workspaces/x", "sha256:../../\(hex)", "sha256:\(hex.uppercased())", "sha512:\(hex)",
                       "sha256:\(hex.dropLast())", "sha256:\(hex)0", "sha256:\(hex.dropLast())/", "sha256:\(hex.dropLast())\u{0}"] {
            let text = #"{"manifests":[{"digest":"\#(digest)","size":1}]}"#
            #expect(throws: (any Error).self) { try OCILayoutIndex.parse(Array(text.utf8)) }
        }
        let huge = #"{"manifests":[{"digest":"sha256:\#(hex)","size":9223372036854775807}]}"#
        #expect(throws: (any Error).self) { try OCILayoutIndex.parse(Array(huge.utf8)) }
        #expect(throws: (any Error).self) { try OCILayoutIndex.parse([UInt8](repeating: 0x20, count: OCILayoutIndex.maximumSize + 1)) }
    }

    @Test func mutatedIndexesNeverTrap() {
        var random = SplitMix64(state: 0x1D3A)
        let alphabet = Array(#"{}[]":,0123456789abcdefsha256-/.\ "#.utf8)
        for _ in 0..<20_000 {
            var bytes = Self.valid
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[at] = alphabet.randomElement(using: &random)!
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                }
                if bytes.isEmpty { break }
            }
            if let index = try? OCILayoutIndex.parse(bytes) {
                #expect(OCILayoutIndex.isDigestHex(index.manifestDigest))
                #expect(index.manifestSize > 0 && index.manifestSize <= OCILayoutIndex.maximumSize)
                #expect(!index.pinned(tag: "hearth").isEmpty)
            }
        }
    }
}
