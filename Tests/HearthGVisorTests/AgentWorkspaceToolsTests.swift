import Foundation
import HearthAgentCore
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthServerTestKit
import Testing

/// The agent's tools in a real gVisor workspace, through the control plane: files, exact-unique
/// edits, listing, search, head-and-tail truncation, and a timeout or cancel that kills the
/// command's whole process group.
@Suite(.serialized, .timeLimit(.minutes(5))) struct AgentWorkspaceToolsTests {
    static func tools() async throws -> (AgentWorkspaceTools, LiveServer, String) {
        let server = try await LiveServer.shared.value
        let ws = try await server.client.create(API.CreateWorkspaceBody(runtime: "gvisor"))
        return (AgentWorkspaceTools(workspaces: server.service.manager, workspaceId: ws.id), server, ws.id)
    }

    static func call(_ tools: AgentWorkspaceTools, _ name: String, _ arguments: String) async -> ToolOutcome {
        await tools.run(ToolCall(id: "c", name: name, argumentsJSON: arguments))
    }

    @Test func filesAreWrittenReadEditedListedAndSearchedInsideTheWorkspace() async throws {
        let (tools, server, ws) = try await Self.tools()
        defer { Task { try? await server.client.delete(ws) } }
        let wrote = await Self.call(tools, "write_file", #"{"path":"src/app.txt","content":"alpha\nbeta\nalpha\n"}"#)
        #expect(!wrote.isError, "\(wrote.content)")
        #expect(try await server.client.run(ws, ["cat", "/workspace/src/app.txt"]).stdoutText == "alpha\nbeta\nalpha\n")
        #expect(await Self.call(tools, "read_file", #"{"path":"/workspace/src/app.txt"}"#).content == "alpha\nbeta\nalpha\n")
        let ambiguous = await Self.call(tools, "edit_file", #"{"path":"src/app.txt","old_string":"alpha","new_string":"x"}"#)
        #expect(ambiguous.isError && ambiguous.content.contains("2 times"))
        let missing = await Self.call(tools, "edit_file", #"{"path":"src/app.txt","old_string":"gamma","new_string":"x"}"#)
        #expect(missing.isError && missing.content.contains("not found"))
        let edited = await Self.call(tools, "edit_file", #"{"path":"src/app.txt","old_string":"beta","new_string":"BETA"}"#)
        #expect(!edited.isError)
        #expect(await Self.call(tools, "read_file", #"{"path":"src/app.txt"}"#).content == "alpha\nBETA\nalpha\n")
        #expect(await Self.call(tools, "list_files", "{}").content.contains("/workspace/src/app.txt"))
        let found = await Self.call(tools, "search", #"{"pattern":"B.TA"}"#)
        #expect(found.content.contains("src/app.txt:2:BETA"), "\(found.content)")
        #expect(await Self.call(tools, "search", #"{"pattern":"nowhere-to-be-found"}"#).content == "no matches")
        #expect(await Self.call(tools, "read_file", #"{"path":"nope.txt"}"#).isError)
        #expect(await Self.call(tools, "unknown", "{}").isError)
        #expect(await Self.call(tools, "bash", "not json").isError)
        #expect(await Self.call(tools, "bash", #"{"command":42}"#).isError)
    }

    @Test func bashOutputIsCutHeadAndTailAtTheStatedSize() async throws {
        let (tools, server, ws) = try await Self.tools()
        defer { Task { try? await server.client.delete(ws) } }
        let out = await Self.call(tools, "bash", #"{"command":"echo FIRST; head -c 100000 /dev/zero | tr '\\0' x; echo; echo LAST; exit 3"}"#)
        #expect(out.isError && out.exitCode == 3 && out.truncated)
        #expect(out.content.hasPrefix("FIRST"))
        #expect(out.content.contains("LAST\n"))
        #expect(out.content.contains("bytes omitted"))
        #expect(out.content.utf8.count < AgentWorkspaceTools.outputLimit + 200)
    }

    @Test func aTimeoutKillsTheWholeProcessGroupAndIsClamped() async throws {
        let (tools, server, ws) = try await Self.tools()
        defer { Task { try? await server.client.delete(ws) } }
        let start = ContinuousClock.now
        let out = await Self.call(tools, "bash", #"{"command":"sleep 300 & sleep 301 & echo started; wait","timeout":1}"#)
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(out.content.contains("killed after 1 s"), "\(out.content)")
        let left = try await server.client.run(ws, ["sh", "-c", "ps -eo args | grep -c '^sleep 30[01]' || true"])
        #expect(left.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the background sleeps were in the group and died")
        #expect(AgentWorkspaceTools.clamped(1e300, default: 120, range: 1...900) == 900)
        #expect(AgentWorkspaceTools.clamped(-5, default: 120, range: 1...900) == 1)
        #expect(AgentWorkspaceTools.clamped(Double.nan, default: 120, range: 1...900) == 120)
        #expect(AgentWorkspaceTools.clamped("x", default: 120, range: 1...900) == 120)
    }

    @Test func cancellingTheTurnKillsTheRunningCommand() async throws {
        let (tools, server, ws) = try await Self.tools()
        defer { Task { try? await server.client.delete(ws) } }
        let task = Task { await Self.call(tools, "bash", #"{"command":"sleep 302"}"#) }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let ps = try await server.client.run(ws, ["sh", "-c", "ps -eo args | grep -c '^sleep 302' || true"])
            if ps.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "1" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let start = ContinuousClock.now
        task.cancel()
        let outcome = await task.value
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(outcome.isError)
        var gone = false
        while ContinuousClock.now < deadline {
            let ps = try await server.client.run(ws, ["sh", "-c", "ps -eo args | grep -c '^sleep 302' || true"])
            if ps.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0" { gone = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(gone)
    }
}
