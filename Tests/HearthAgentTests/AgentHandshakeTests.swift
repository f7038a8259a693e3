import CHearthGuest
import Foundation
import HearthAgent
import HearthCore
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// Issue 14, finding 6: the host adopts only an agent that proves the per-boot secret the host
/// provisioned; anything else answering where the agent should be is refused and closed.
@Suite(.timeLimit(.minutes(2))) struct AgentHandshakeTests {
    /// Plays a guest that answers the host's hello with `proof(challenge)`.
    func handshake(answering proof: @escaping @Sendable (String) -> String?, version: Int = WireVersion.current,
                   secret: [UInt8]) async throws -> (Result<Hello, any Error>, AgentConnection, challenge: String?) {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        let attempt = Task { try await host.handshake(secret: secret, timeout: .seconds(5)) }
        var decoder = FrameDecoder()
        let frame = try #require(try await RawPeer.receive(peer, decoder: &decoder))
        #expect(frame.kind == .hello)
        let hello = try WireCoding.decode(Hello.self, from: frame.payload)
        await RawPeer.send(peer, [.hello(Hello(version: version, agent: "impostor", session: hello.session,
                                               proof: hello.challenge.flatMap(proof)))])
        let result = await attempt.result
        return (result, host, hello.challenge)
    }

    @Test func anAgentThatCannotProveTheSecretIsRefused() async throws {
        let secret = InProcessAgent.randomSecret()
        let wrong = InProcessAgent.randomSecret()
        let answers: [@Sendable (String) -> String?] = [
            { _ in nil },
            { _ in String(repeating: "0", count: 64) },
            { AgentAuthentication.proof(secret: wrong, challenge: $0) },
            { AgentAuthentication.proof(secret: secret, challenge: $0 + "x") },
        ]
        for answer in answers {
            let (result, host, challenge) = try await handshake(answering: answer, secret: secret)
            #expect(throws: HearthError.self) { try result.get() }
            #expect(host.isClosed)
            #expect(challenge?.utf8.count == 2 * AgentAuthentication.challengeLength)
        }
        // The right answer is accepted: the check is not simply refusing everything.
        let (result, host, _) = try await handshake(answering: { AgentAuthentication.proof(secret: secret, challenge: $0) }, secret: secret)
        #expect(try result.get().agent == "impostor")
        host.close()
    }

    @Test func aRecordedProofDoesNotAnswerTheNextChallenge() async throws {
        let secret = InProcessAgent.randomSecret()
        let (first, host1, challenge) = try await handshake(answering: { AgentAuthentication.proof(secret: secret, challenge: $0) }, secret: secret)
        _ = try first.get()
        host1.close()
        let recorded = AgentAuthentication.proof(secret: secret, challenge: try #require(challenge))
        let (replayed, host2, next) = try await handshake(answering: { _ in recorded }, secret: secret)
        #expect(next != challenge)
        #expect(throws: HearthError.self) { try replayed.get() }
        #expect(host2.isClosed)
    }

    @Test func aVersionTwoAgentIsRefused() async throws {
        let secret = InProcessAgent.randomSecret()
        let (result, host, _) = try await handshake(answering: { AgentAuthentication.proof(secret: secret, challenge: $0) },
                                                    version: 2, secret: secret)
        #expect(throws: HearthError.self) { try result.get() }
        #expect(host.isClosed)
    }

    @Test func theAgentProvesOnlyTheSecretItWasGiven() async throws {
        let context = InProcessAgent.makeContext()
        let secret = InProcessAgent.randomSecret()
        let first = try await InProcessAgent.connect(context: context, secret: secret, provision: true)
        guard case .health = try await first.call(.health) else { Issue.record(); return }
        first.close()
        // A later session of the same agent (a reconnect through the bridge) proves the same secret.
        let later = try await InProcessAgent.connect(context: context, secret: secret, mayProvision: false)
        later.close()
        await #expect(throws: HearthError.self) {
            _ = try await InProcessAgent.connect(context: context, secret: InProcessAgent.randomSecret(), mayProvision: false)
        }
    }

    @Test func aSecondProvisionIsRefusedAndKeepsTheFirstSecret() async throws {
        let context = InProcessAgent.makeContext()
        let secret = InProcessAgent.randomSecret()
        try await InProcessAgent.connect(context: context, secret: secret, provision: true).close()
        let other = InProcessAgent.randomSecret()
        await #expect(throws: HearthError.self) {
            _ = try await InProcessAgent.connect(context: context, secret: other, provision: true)
        }
        try await InProcessAgent.connect(context: context, secret: secret).close()
    }

    @Test func onlyTheHostsChannelMayProvision() async throws {
        let context = InProcessAgent.makeContext()
        // The unix-socket listener's sessions may not be provisioned: any workspace process reaches them.
        await #expect(throws: HearthError.self) {
            _ = try await InProcessAgent.connect(context: context, secret: InProcessAgent.randomSecret(), provision: true, mayProvision: false)
        }
        #expect(!context.credentials.isProvisioned)
        // Nor can an unprovisioned agent prove anything.
        await #expect(throws: HearthError.self) {
            _ = try await InProcessAgent.connect(context: context, secret: InProcessAgent.randomSecret())
        }
    }

    /// The agent's socket is abstract: while the agent holds it, nobody else can bind it, so a
    /// workspace process cannot plant a listener where the host's bridge connects.
    @Test func nobodyCanSquatTheAgentsSocket() async throws {
        let context = InProcessAgent.makeContext()
        let secret = InProcessAgent.randomSecret()
        try await InProcessAgent.connect(context: context, secret: secret, provision: true).close()
        let address = "@hearth-test-\(UInt64.random(in: 0...UInt64.max))"
        AgentServer.listen(path: address, context: context)
        let squatter = hearth_listen_unix(address, 1)
        let squatError = errno
        #expect(squatter < 0)
        #expect(squatError == EADDRINUSE)
        if squatter >= 0 { close(squatter) }
        let fd = hearth_connect_unix(address)
        #expect(fd >= 0)
        let bridged = try await AgentConnection.connect(socket: fd, logger: .init(label: "test"))
        _ = try await bridged.handshake(secret: secret)
        guard case .health = try await bridged.call(.health) else { Issue.record(); return }
        bridged.close()
    }
}
