import HearthWire
import Testing

/// The static guest's own SHA-256 and HMAC: checked against FIPS 180-2 and RFC 4231 vectors, at
/// every padding boundary, and against Python's `hmac` for the agent's proof itself.
@Suite struct AgentAuthenticationTests {
    static func hex(_ bytes: [UInt8]) -> String { AgentAuthentication.hex(bytes) }
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
    }

    @Test func sha256MatchesFIPSVectors() {
        #expect(Self.hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha256AtEveryPaddingBoundary() {
        let expected = [
            55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
            56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
            63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
            64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            65: "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0",
            119: "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb",
            120: "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c",
        ]
        for (count, digest) in expected {
            #expect(Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: count))) == digest, "\(count) bytes")
            // Fed in pieces, the same.
            var h = SHA256()
            for byte in [UInt8](repeating: 0x61, count: count) { h.update([byte]) }
            #expect(Self.hex(h.finalize()) == digest)
        }
    }

    @Test func hmacMatchesRFC4231() {
        #expect(Self.hex(HMACSHA256.authenticationCode(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(Self.hex(HMACSHA256.authenticationCode(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(Self.hex(HMACSHA256.authenticationCode(key: [UInt8](repeating: 0xaa, count: 20), message: [UInt8](repeating: 0xdd, count: 50)))
            == "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")
        #expect(Self.hex(HMACSHA256.authenticationCode(
            key: [UInt8](repeating: 0xaa, count: 131), message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func theProofIsHMACOfTheLabelledChallenge() {
        let secret = [UInt8](repeating: 0x6b, count: 32)
        // python3: hmac.new(b'k'*32, b'hearth-agent-proof/3\x00' + b'abc', 'sha256').hexdigest()
        #expect(AgentAuthentication.proof(secret: secret, challenge: "abc") == "1e1e5e9e5413784b6ba2f7a5c754942fd75ce9f9c49cc59cc1ef4ba97d0e42d2")
        let proof = AgentAuthentication.proof(secret: secret, challenge: "abc")
        #expect(AgentAuthentication.verify(proof: proof, secret: secret, challenge: "abc"))
        #expect(!AgentAuthentication.verify(proof: nil, secret: secret, challenge: "abc"))
        #expect(!AgentAuthentication.verify(proof: "", secret: secret, challenge: "abc"))
        #expect(!AgentAuthentication.verify(proof: String(proof.dropLast()), secret: secret, challenge: "abc"))
        #expect(!AgentAuthentication.verify(proof: proof.uppercased(), secret: secret, challenge: "abc"))
        #expect(!AgentAuthentication.verify(proof: proof, secret: secret, challenge: "abd"))
        var other = secret
        other[31] ^= 1
        #expect(!AgentAuthentication.verify(proof: proof, secret: other, challenge: "abc"))
    }

    /// Whatever a peer sends as its proof, checking it never traps and never accepts.
    @Test func fuzzedProofsAreRefusedWithoutCrashing() {
        var rng = SplitMix64(seed: 0x5052_4F4F_46)
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for _ in 0..<20_000 {
            let length = Int(rng.next() % 80)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let proof = String(decoding: bytes, as: UTF8.self)
            #expect(!AgentAuthentication.verify(proof: proof, secret: secret, challenge: "c"))
        }
    }

    @Test func provisionFramesRoundTrip() throws {
        let secret = [UInt8](repeating: 7, count: AgentAuthentication.secretLength)
        var decoder = FrameDecoder()
        decoder.append(Frame.provision(secret).encoded())
        let frame = try #require(try decoder.next())
        #expect(frame == Frame(kind: .provision, stream: 0, payload: secret))
        let hello = Hello(agent: "a", session: "s", challenge: "c", proof: "p")
        #expect(try WireCoding.decode(Hello.self, from: WireCoding.encode(hello)) == hello)
        // A version-2 hello (no challenge, no proof) still decodes; the host then refuses it.
        let old = try WireCoding.decode(Hello.self, from: Array(#"{"version":2,"agent":"x","session":"y"}"#.utf8))
        #expect(old.proof == nil)
    }
}
