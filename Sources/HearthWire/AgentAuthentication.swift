/// How an agent proves it is the one the host started (wire version 3).
///
/// The host makes a random secret for every agent process it starts, hands it over out of band
/// (the first frame on the sandbox's stdio socketpair, or on the microVM's port at boot) and keeps
/// its copy outside the sandbox. Every handshake carries a fresh challenge; the agent answers
/// HMAC-SHA256(secret, label ‖ challenge). A process of the workspace that plants a listener where
/// the host looks for the agent does not know the secret and is refused.
public enum AgentAuthentication {
    public static let secretLength = 32
    public static let challengeLength = 32
    /// Domain separation, so the MAC is useful for nothing else.
    static let label = Array("hearth-agent-proof/3\u{0}".utf8)

    /// The agent's answer to `challenge`, as lowercase hex.
    public static func proof(secret: [UInt8], challenge: String) -> String {
        hex(HMACSHA256.authenticationCode(key: secret, message: label + Array(challenge.utf8)))
    }

    /// Whether `proof` (from the untrusted peer) answers `challenge`. Never traps on any input.
    public static func verify(proof: String?, secret: [UInt8], challenge: String) -> Bool {
        guard let proof else { return false }
        return HMACSHA256.constantTimeEqual(Array(proof.utf8), Array(Self.proof(secret: secret, challenge: challenge).utf8))
    }

    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Where the agent listens inside a sandbox for `hearth-guest bridge` (a host that lost its
/// channel). An abstract unix socket: the agent binds it before any workspace process exists and
/// holds it for life, so no workspace process can bind it, replace it or rename it away; a path
/// in `/run` could be (issue 14, finding 6).
public enum AgentSocket {
    public static let address = "@hearth-agent"
    /// Where the agent serves `hearth-sync` (abstract, like `address`).
    public static let sync = "@hearth-sync"
}
