import Foundation
public import HearthAgent
public import HearthRuntime
import HearthWire
public import Logging

/// The real guest agent served on a thread of the test process, over a socketpair: the
/// in-memory transport for testing the host side of the channel without a sandbox.
public enum InProcessAgent {
    /// The static agent binary, re-run by exec as its spawn helper.
    public static var executablePath: String {
        (ProcessInfo.processInfo.environment["HEARTH_AGENT_DIR"] ?? ".build/hearth-agent") + "/hearth-guest"
    }

    /// Starts an agent session, provisions it with a fresh secret as a runtime does, and returns a
    /// greeted, authenticated host connection to it.
    public static func connect(logger: Logger = Logger(label: "test")) async throws -> AgentConnection {
        try await connect(context: makeContext(), secret: randomSecret(), provision: true, logger: logger)
    }

    public static func makeContext() -> AgentContext {
        AgentContext(executablePath: executablePath, defaultDirectory: NSTemporaryDirectory())
    }

    public static func randomSecret() -> [UInt8] {
        (0..<AgentAuthentication.secretLength).map { _ in UInt8.random(in: 0...255) }
    }

    /// A new session of the agent whose state is `context` (the same agent process, as the agent's
    /// unix socket or a reconnect would reach it), on the host's channel if `mayProvision`.
    public static func connect(context: AgentContext, secret: [UInt8], provision: Bool = false, mayProvision: Bool = true,
                               logger: Logger = Logger(label: "test")) async throws -> AgentConnection {
        let pair = try SocketPair()
        Thread.detachNewThread {
            _ = AgentSession(socket: pair.guest, context: context, mayProvision: mayProvision).run()
        }
        let connection = try await AgentConnection.connect(socket: pair.host, logger: logger)
        do {
            _ = try await connection.handshake(secret: secret, provision: provision, timeout: .seconds(5))
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// A host connection whose peer is a raw socket the test writes to: a stand-in for a hostile guest.
    public static func connectToRawPeer(logger: Logger = Logger(label: "test")) async throws -> (AgentConnection, peer: Int32) {
        let pair = try SocketPair()
        let connection = try await AgentConnection.connect(socket: pair.host, logger: logger)
        return (connection, pair.guest)
    }
}
