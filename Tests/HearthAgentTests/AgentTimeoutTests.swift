@testable import HearthAgent
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// Issue 14 #15: `timeout_ms` near `UInt64.max` overflowed `now + ms * 1e6` and trapped the
/// agent, PID 1 of a microVM. The host's number now saturates.
@Suite(.timeLimit(.minutes(1))) struct AgentTimeoutTests {
    @Test func deadlinesSaturateInsteadOfTrapping() {
        #expect(ExecOperation.deadline(now: 5, timeoutMs: nil) == nil)
        #expect(ExecOperation.deadline(now: 5, timeoutMs: 2) == 2_000_005)
        #expect(ExecOperation.deadline(now: 5, timeoutMs: .max) == .max)
        #expect(ExecOperation.deadline(now: .max - 10, timeoutMs: 1) == .max)
        #expect(ExecOperation.deadline(now: 1, timeoutMs: UInt64.max / 1_000_000) == UInt64.max / 1_000_000 * 1_000_000 + 1)
    }

    @Test func anOverflowingTimeoutRunsTheProcessAndKeepsTheAgent() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        for timeout: UInt64 in [.max, .max / 1_000, 1 << 63] {
            let result = try await run(agent, ["/bin/sh", "-c", "echo alive"], timeoutMs: timeout)
            #expect(result.exit?.code == 0)
            #expect(result.exit?.timedOut == false)
            #expect(result.out == "alive\n")
        }
        // The agent still serves, and a real timeout still fires.
        let slow = try await run(agent, ["sleep", "30"], timeoutMs: 200)
        #expect(slow.exit?.timedOut == true)
    }
}
