import Foundation
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// An agent session's operations outlive it (a process keeps running after its client went), so
/// the session must stop them writing before its fd is closed: a closed fd number is reused by the
/// next connection, and a frame, or the rest of one, written there corrupts a stranger's channel.
/// CI saw it as "unknown frame kind 45" (the '-' of `flood-line`) on the connection a test opened
/// right after the previous one had closed on a flooding process.
@Suite(.timeLimit(.minutes(2))) struct AgentSessionEndTests {
    /// Connections that end while their process floods, each followed at once by a new one that
    /// likely gets the old fd number, never see a byte of the old flood.
    @Test func aSessionThatEndsMidFloodWritesNothingToItsReusedFd() async throws {
        for round in 0..<60 {
            let agent = try await InProcessAgent.connect()
            // Bounded, so the floods that outlive their sessions end by themselves.
            let stream = try await agent.open(.exec(ExecRequest(argv: ["sh", "-c", "yes flood-line | head -c 4000000"])))
            // Output is flowing: the operation thread is writing when the host goes.
            var seen = 0
            while seen < 4096, let event = try await stream.next() {
                if case .data(_, let bytes) = event { seen += bytes.count }
            }
            agent.close()
            let next = try await InProcessAgent.connect()
            defer { next.close() }
            for _ in 0..<3 {
                guard case .health = try await next.call(.health) else {
                    Issue.record("round \(round): the next connection did not answer health")
                    return
                }
            }
        }
    }
}
