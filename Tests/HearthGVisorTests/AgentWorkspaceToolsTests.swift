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

    /// Found by a hostile review: files between 128 and 256 KiB were read through the head half of
    /// a head-and-tail buffer, so `read_file` returned half and `edit_file` wrote back only that half.
    @Test func aFileOverHalfTheReadLimitIsReadAndEditedWhole() async throws {
        let (tools, server, ws) = try await Self.tools()
        defer { Task { try? await server.client.delete(ws) } }
        // 200 KiB of lines, with a unique marker near the start and the file's end checked after.
        let script = "python3 -c \"import sys; sys.stdout.write('MARKER\\n' + ''.join('line %06d\\n' % i for i in range(18000)) + 'THE-END\\n')\" > /workspace/big.txt; wc -c < /workspace/big.txt"
        let made = try await server.client.run(ws, ["sh", "-c", script])
        let size = Int(made.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(size > 128 * 1024 && size < 256 * 1024, "\(made.stdoutText) \(made.stderrText)")
        let read = await Self.call(tools, "read_file", #"{"path":"big.txt"}"#)
        #expect(read.content.utf8.count == size && read.content.hasSuffix("THE-END\n"), "read \(read.content.utf8.count) of \(size) bytes")
        let edited = await Self.call(tools, "edit_file", #"{"path":"big.txt","old_string":"MARKER","new_string":"EDITED"}"#)
        #expect(!edited.isError, "\(edited.content)")
        let after = try await server.client.run(ws, ["sh", "-c", "wc -c < /workspace/big.txt; tail -n 1 /workspace/big.txt; head -n 1 /workspace/big.txt"])
        #expect(after.stdoutText == "\(size)\nTHE-END\nEDITED\n", "\(after.stdoutText)")
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
