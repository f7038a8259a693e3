import Foundation
import HearthAgent
import HearthRuntime
import Logging

/// The real guest agent served on a thread of the test process, over a socketpair: the
/// in-memory transport for testing the host side of the channel without a sandbox.
public enum InProcessAgent {
    /// The static agent binary, re-run by exec as its spawn helper.
    public static var executablePath: String {
        (ProcessInfo.processInfo.environment["HEARTH_AGENT_DIR"] ?? ".build/hearth-agent") + "/hearth-guest"
    }

    /// Starts an agent session and returns a greeted host connection to it.
    public static func connect(logger: Logger = Logger(label: "test")) async throws -> AgentConnection {
        let pair = try SocketPair()
        let context = AgentContext(executablePath: executablePath, defaultDirectory: NSTemporaryDirectory())
        Thread.detachNewThread {
            _ = AgentSession(readFD: pair.guest, writeFD: pair.guest, context: context).run()
            close(pair.guest)
        }
        let connection = try await AgentConnection.connect(socket: pair.host, logger: logger)
        _ = try await connection.handshake(timeout: .seconds(5))
        return connection
    }

    /// A host connection whose peer is a raw socket the test writes to: a stand-in for a hostile guest.
    public static func connectToRawPeer(logger: Logger = Logger(label: "test")) async throws -> (AgentConnection, peer: Int32) {
        let pair = try SocketPair()
        let connection = try await AgentConnection.connect(socket: pair.host, logger: logger)
        return (connection, pair.guest)
    }
}
