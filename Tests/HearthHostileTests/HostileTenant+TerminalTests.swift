import Foundation
import HearthAPI
import HearthClient
@testable import HearthServer
import HearthSessions
import HearthServerTestKit
import HummingbirdWSClient
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Terminals and exec against a hostile member and viewer of a second tenant (issue 14 #5, #15,
/// #16): a terminal is its opener's; a viewer sees only what was shared with it, read-only; no
/// number a client sends traps the server or the agent.
@Suite(.serialized, .timeLimit(.minutes(4))) struct HostileTenantTerminalTests {
    /// Sends `json` and waits for the `n`th error reply; returns its code.
    static func refusal(_ outbound: WebSocketOutboundWriter, _ received: TerminalSocketClient.Received, _ json: String) async throws -> String? {
        let before = received.all("error").count
        try await TerminalSocketClient.send(outbound, json)
        try await TerminalSocketClient.until("an error for \(json)") { received.all("error").count > before }
        return received.all("error")[before]["code"] as? String
    }

    @Test func aTerminalIsItsOpenersAndAViewerSeesOnlyWhatIsSharedReadOnly() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let w = try await evil.member.create(API.CreateWorkspaceBody(name: "hostile-terminal"))
        // A second credential of the same member is a different principal.
        let otherToken = try #require(try await server.client.createToken(
            API.CreateTokenBody(name: "m2", tenant: evil.tenant, user: "m@\(evil.tenant).test")).token)
        let other = HearthClient(baseURL: server.url, token: otherToken)

        let opened = Mutex<Int?>(nil)
        try await TerminalSocketClient.connect(evil.member, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, #"{"type":"open","cols":80,"rows":24}"#)
            try await TerminalSocketClient.until("opened") { received.first("opened") != nil }
            let id = try #require(received.first("opened")?["id"] as? Int)
            opened.withLock { $0 = id }
            try await TerminalSocketClient.send(outbound, #"{"type":"input","id":\#(id),"data":"echo secret-$((6*7))\n"}"#)
            try await TerminalSocketClient.until("the secret echoed") { received.text(id).contains("secret-42") }
        }
        let id = try #require(opened.withLock { $0 })

        // Unshared: neither the viewer nor the member's other token can see, attach, drive or close it.
        for client in [evil.viewer, other] {
            try await TerminalSocketClient.connect(client, w.id) { outbound, received in
                try await TerminalSocketClient.send(outbound, #"{"type":"list"}"#)
                try await TerminalSocketClient.until("the list") { received.first("terminals") != nil }
                #expect((received.first("terminals")?["terminals"] as? [Any])?.isEmpty == true)
                #expect(try await Self.refusal(outbound, received, #"{"type":"attach","id":\#(id)}"#) == "not_found")
                let input = try await Self.refusal(outbound, received, #"{"type":"input","id":\#(id),"data":"echo pwned\n"}"#)
                #expect(input == "forbidden" || input == "not_found")
                let close = try await Self.refusal(outbound, received, #"{"type":"close","id":\#(id)}"#)
                #expect(close == "forbidden" || close == "not_found")
                let share = try await Self.refusal(outbound, received, #"{"type":"share","id":\#(id),"readOnly":true}"#)
                #expect(share == "forbidden" || share == "not_found")
                // Issue 14 #5: this acknowledgement trapped the server.
                try await TerminalSocketClient.send(outbound, #"{"type":"ack","id":\#(id),"bytes":18446744073709551615}"#)
                try await TerminalSocketClient.send(outbound, #"{"type":"list"}"#)
                try await TerminalSocketClient.until("a second list") { received.all("terminals").count == 2 }
                #expect(!received.text(id).contains("secret-42"))
            }
        }
        #expect(try await evil.viewer.list().contains { $0.id == w.id })

        // Shared read-only: the viewer reads the scrollback and live output, and cannot type, resize or close.
        try await TerminalSocketClient.connect(evil.member, w.id) { owner, ownerReceived in
            try await TerminalSocketClient.send(owner, #"{"type":"share","id":\#(id),"readOnly":true}"#)
            try await TerminalSocketClient.until("shared") { ownerReceived.first("shared") != nil }
            try await TerminalSocketClient.send(owner, #"{"type":"attach","id":\#(id)}"#)
            try await TerminalSocketClient.connect(evil.viewer, w.id) { outbound, received in
                try await TerminalSocketClient.send(outbound, #"{"type":"list"}"#)
                try await TerminalSocketClient.until("the list") { received.first("terminals") != nil }
                let listed = received.first("terminals")?["terminals"] as? [[String: Any]]
                #expect(listed?.compactMap { $0["id"] as? Int } == [id])
                #expect(listed?.first?["readOnly"] as? Bool == true)
                try await TerminalSocketClient.send(outbound, #"{"type":"attach","id":\#(id)}"#)
                try await TerminalSocketClient.until("the scrollback") { received.text(id).contains("secret-42") }
                #expect(received.first("attached")?["readOnly"] as? Bool == true)
                try await TerminalSocketClient.send(outbound, #"{"type":"ack","id":\#(id),"bytes":18446744073709551615}"#)
                #expect(try await Self.refusal(outbound, received, #"{"type":"input","id":\#(id),"data":"touch /tmp/viewer-was-here\n"}"#) == "forbidden")
                #expect(try await Self.refusal(outbound, received, #"{"type":"resize","id":\#(id),"cols":10,"rows":5}"#) == "forbidden")
                #expect(try await Self.refusal(outbound, received, #"{"type":"close","id":\#(id)}"#) == "forbidden")
                try await TerminalSocketClient.send(owner, #"{"type":"input","id":\#(id),"data":"echo live-$((7*7))\n"}"#)
                try await TerminalSocketClient.until("live output reaches the viewer") { received.text(id).contains("live-49") }
                // Unsharing detaches the viewer.
                try await TerminalSocketClient.send(owner, #"{"type":"share","id":\#(id),"shared":false}"#)
                try await TerminalSocketClient.until("detached") { received.first("detached") != nil }
            }
            try await TerminalSocketClient.send(owner, #"{"type":"close","id":\#(id)}"#)
            try await TerminalSocketClient.until("the exit") { ownerReceived.first("exit") != nil }
        }
        #expect(try await evil.member.run(w.id, ["sh", "-c", "test ! -e /tmp/viewer-was-here"]).code == 0)
        try await evil.member.delete(w.id)
    }

    /// Issue 14 #15: `timeout_ms` overflow killed the agent, PID 1 of a microVM.
    @Test func anOverflowingTimeoutIsRefusedAndTheWorkspaceLives() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let w = try await evil.member.create(API.CreateWorkspaceBody(name: "hostile-timeout"))
        for timeout in ["18446744073709551615", "18446744073709552", "0"] {
            let (status, body) = try await evil.request(evil.memberToken, .POST, "/v1/workspaces/\(w.id)/exec",
                                                        body: #"{"argv":["true"],"timeout_ms":\#(timeout)}"#,
                                                        headers: [("Content-Type", "application/json")])
            #expect(status == 400, "timeout_ms \(timeout): \(status) \(body)")
            #expect(body.contains("invalid_argument"))
        }
        let result = try await evil.member.run(w.id, ["echo", "alive"])
        #expect(result.code == 0)
        try await evil.member.delete(w.id)
    }
}

extension HostileTenantTerminalTests {
    /// Issue 14 #8: a client that acknowledged everything and read nothing grew the server by
    /// 98 MiB in 120 s. Now acknowledgements count only what reached its socket, so what is queued
    /// for it stays within the window, and after the stall limit it is disconnected.
    @Test func aClientThatAcksButNeverReadsIsDisconnectedWithItsQueueBounded() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let w = try await evil.member.create(API.CreateWorkspaceBody(name: "hostile-slow-reader"))
        let hub = server.service.terminals
        let dropped: @Sendable () async -> Bool = {
            guard let terminal = await hub.all(workspaceID: w.id).first else { return false }
            let (clients, produced, exit) = (await terminal.clientCount, await terminal.producedBytes, await terminal.exit)
            // Dropped, not merely let go because the shell ended.
            return clients == 0 && produced > Terminal.window && exit == nil
        }
        // The handler never reads `inbound`: NIO stops reading the socket, and the server's fills.
        // The server ends it by closing the connection: a reset here is the expected outcome.
        let reset: Bool
        do {
            try await Self.blindAcks(evil.member, w.id, until: dropped)
            reset = false
        } catch {
            reset = true
        }
        // Known, not Hearth's: gVisor's PTY (runsc 2022-12) never blocks a writer whose output
        // outruns the master's reader, so `yes` on a terminal grows the sandbox's sentry (about
        // 20-35 MiB/s here, read or not) until the workspace's memory limit kills it, often just
        // before the 30 s stall limit drops the client. It reproduces with no Hearth code: a
        // `python3 -c 'pty.fork(); exec yes'` in a workspace, its master read as fast as Python
        // can. The in-process agent (a real kernel's PTY) survives the same stall, and
        // TerminalFlowTests proves the drop deterministically.
        await withKnownIssue("the gVisor sandbox exits after a long terminal stall", isIntermittent: true) {
            #expect(await dropped(), "the client that read nothing is still attached (connection reset: \(reset))")
        }
        let terminal = try #require(await hub.all(workspaceID: w.id).first)
        let queued = await terminal.peakQueued
        #expect(queued <= Terminal.window + 256 * 1024, "queued \(queued) bytes for a client that read nothing")
        // The server lives. (That the terminal reads on without the dropped client is asserted by
        // TerminalFlowTests, without a sandbox whose fate is not this test's subject.)
        #expect(try await server.client.health().status == "ok")
        #expect(try await evil.member.list().contains { $0.id == w.id })
        try await evil.member.delete(w.id)
    }

    /// Opens a flooding terminal, then acknowledges everything and reads nothing: the handler never
    /// touches `inbound`, so NIO stops reading the socket and the server's side fills.
    static func blindAcks(_ client: HearthClient, _ workspace: String, until dropped: @escaping @Sendable () async -> Bool) async throws {
        try await client.webSocket("/v1/workspaces/\(workspace)/ws") { _, outbound, _ in
            try await outbound.write(.text(#"{"type":"open","cols":80,"rows":24}"#))
            try await outbound.write(.text(#"{"type":"input","id":1,"data":"yes flood-line-flood-line\n"}"#))
            let deadline = ContinuousClock.now + .seconds(150)
            while ContinuousClock.now < deadline, await !dropped() {
                do {
                    try await outbound.write(.text(#"{"type":"ack","id":1,"bytes":18446744073709551615}"#))
                    try await outbound.write(.text(#"{"type":"ack","id":1,"bytes":1048576}"#))
                } catch {
                    return  // the server closed the connection
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
