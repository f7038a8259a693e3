import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import HummingbirdWSClient
import NIOCore
import Synchronization
import Testing

/// The IDE's terminal WebSocket against a real sandbox: terminals outlive connections and replay
/// their scrollback, and output is held back by the client's acknowledgements.
@Suite(.serialized, .timeLimit(.minutes(2))) struct TerminalSocketTests {
    @Test func terminalsOutliveTheirConnectionAndReplayTheirScrollback() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "terminals"))
        let opened = Mutex<Int?>(nil)
        try await TerminalSocketClient.connect(server.client, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, ["type": "list"])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "terminals" } }
            #expect((received.messages().first?["terminals"] as? [Any])?.isEmpty == true)
            try await TerminalSocketClient.send(outbound, ["type": "open", "cols": 100, "rows": 30])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "opened" } }
            let id = try #require(received.messages().first { $0["type"] as? String == "opened" }?["id"] as? Int)
            opened.withLock { $0 = id }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "echo marker-$((40+2)); stty size\n"])
            try await TerminalSocketClient.until { received.text(id).contains("marker-42") && received.text(id).contains("30 100") }
        }
        let id = try #require(opened.withLock { $0 })
        // A new connection (a reload) finds the terminal, and attaching replays what it showed.
        try await TerminalSocketClient.connect(server.client, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, ["type": "list"])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "terminals" } }
            let listed = received.messages().first?["terminals"] as? [[String: Any]]
            #expect(listed?.compactMap { $0["id"] as? Int } == [id])
            try await TerminalSocketClient.send(outbound, ["type": "attach", "id": id])
            try await TerminalSocketClient.until { received.text(id).contains("marker-42") }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "echo still-$((6*7))\n"])
            try await TerminalSocketClient.until { received.text(id).contains("still-42") }
            try await TerminalSocketClient.send(outbound, ["type": "close", "id": id])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "exit" } }
        }
        try await server.client.delete(w.id)
    }

    @Test func aFloodingTerminalWaitsForTheClientsAcknowledgements() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "flood"))
        try await TerminalSocketClient.connect(server.client, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, ["type": "open", "cols": 80, "rows": 24])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "opened" } }
            let id = try #require(received.messages().first { $0["type"] as? String == "opened" }?["id"] as? Int)
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "yes flood-line\n"])
            // Without acknowledgements the server sends at most its window (512 KiB) and one chunk more.
            try await TerminalSocketClient.until { received.count(id) >= 512 * 1024 }
            var previous = -1
            while received.count(id) != previous {
                previous = received.count(id)
                try await Task.sleep(for: .milliseconds(500))
            }
            let held = received.count(id)
            #expect(held <= 512 * 1024 + 64 * 1024, "received \(held) bytes without acknowledging any")
            // Acknowledging lets more through.
            try await TerminalSocketClient.send(outbound, ["type": "ack", "id": id, "bytes": held])
            try await TerminalSocketClient.until { received.count(id) > held + 256 * 1024 }
            try await TerminalSocketClient.send(outbound, ["type": "close", "id": id])
        }
        try await server.client.delete(w.id)
    }

    /// gVisor's terminal does not raise signals itself; the agent's relay does (TerminalSignalRelay).
    @Test func ctrlCAndResizeSignalTheForegroundJobAndClosingHangsUpTheSession() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "interrupt"))
        let sleeping: @Sendable (String) async throws -> Bool = { seconds in
            try await server.client.run(w.id, ["pgrep", "-f", "^sleep \(seconds)$"]).code == 0
        }
        let stopped: @Sendable (String) async throws -> Bool = { seconds in
            try await server.client.run(w.id, ["sh", "-c", "ps -o stat= -p $(pgrep -f '^sleep \(seconds)$') | grep -q T"]).code == 0
        }
        try await TerminalSocketClient.connect(server.client, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, ["type": "open", "cols": 80, "rows": 24])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "opened" } }
            let id = try #require(received.messages().first { $0["type"] as? String == "opened" }?["id"] as? Int)
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "sleep 301; echo not-$((0+1))-interrupted\n"])
            while try await !sleeping("301") { try await Task.sleep(for: .milliseconds(100)) }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "\u{03}"])
            try await TerminalSocketClient.until { received.text(id).contains("^C") }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "echo after-$((4*2))\n"])
            try await TerminalSocketClient.until { received.text(id).contains("after-8") }
            #expect(!received.text(id).contains("not-1-interrupted"))
            #expect(try await !sleeping("301"))

            // A resize reaches the shell as SIGWINCH, so readline redraws for the new width.
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "trap 'echo winch-$((5+5))' WINCH; echo trap-$((1+2))-set\n"])
            try await TerminalSocketClient.until { received.text(id).contains("trap-3-set") }
            try await TerminalSocketClient.send(outbound, ["type": "resize", "id": id, "cols": 132, "rows": 40])
            try await TerminalSocketClient.until { received.text(id).contains("winch-10") }

            // Ctrl-Z stops the job and fg brings it back to the foreground, where Ctrl-C ends it.
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "sleep 302\n"])
            while try await !sleeping("302") { try await Task.sleep(for: .milliseconds(100)) }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "\u{1a}"])
            try await TerminalSocketClient.until { received.text(id).contains("Stopped") }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "fg\n"])
            // bash hands the job the terminal before it sends SIGCONT: once it runs, it has the foreground.
            while try await stopped("302") { try await Task.sleep(for: .milliseconds(100)) }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "\u{03}"])
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "echo again-$((4*3))\n"])
            try await TerminalSocketClient.until { received.text(id).contains("again-12") }
            #expect(try await !sleeping("302"))

            // A password prompt does not echo (the preload makes TCSAFLUSH work on gVisor's pty).
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id,
                                           "data": "python3 -c 'import getpass; print(len(getpass.getpass()))'\n"])
            try await TerminalSocketClient.until { received.text(id).contains("Password:") }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "hunter2\n"])
            try await TerminalSocketClient.until { received.text(id).contains("7\r\n") }
            #expect(!received.text(id).contains("hunter2"))
            #expect(!received.text(id).contains("Warning"))

            // Closing the terminal hangs up its session, background jobs included.
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "sleep 303 &\n"])
            while try await !sleeping("303") { try await Task.sleep(for: .milliseconds(100)) }
            try await TerminalSocketClient.send(outbound, ["type": "close", "id": id])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "exit" } }
        }
        while try await sleeping("303") { try await Task.sleep(for: .milliseconds(100)) }
        try await server.client.delete(w.id)
    }
}

extension TerminalSocketTests {
    /// Issue 15, IDE bug 2: pausing an open workspace from the CLI left its page stuck ("the
    /// workspace agent went away", the header still "running"). The terminal socket now tells the
    /// page every state the workspace enters, so it sees `paused` and then `running`, and after the
    /// resume the same socket opens a working terminal again.
    @Test func theTerminalSocketReportsAPauseAndRecoversAfterTheResume() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "terminal-pause"))
        let client = server.client
        try await TerminalSocketClient.connect(client, w.id) { outbound, received in
            let states: @Sendable () -> [String] = {
                received.messages().filter { $0["type"] as? String == "workspace" }.compactMap { $0["state"] as? String }
            }
            try await TerminalSocketClient.send(outbound, ["type": "open", "cols": 80, "rows": 24])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "opened" } }
            let first = try #require(received.messages().first { $0["type"] as? String == "opened" }?["id"] as? Int)
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": first, "data": "echo before-$((20+1))\n"])
            try await TerminalSocketClient.until { received.text(first).contains("before-21") }

            _ = try await client.lifecycle(w.id, "pause")
            try await TerminalSocketClient.until { states().contains("paused") }
            _ = try await client.lifecycle(w.id, "resume")
            try await TerminalSocketClient.until { states().contains("running") }
            #expect(Array(states().suffix(2)) == ["resuming", "running"], "states seen: \(states())")

            // The same socket serves the resumed workspace.
            let before = received.messages().filter { $0["type"] as? String == "opened" }.count
            try await TerminalSocketClient.send(outbound, ["type": "open", "cols": 80, "rows": 24])
            try await TerminalSocketClient.until { received.messages().filter { $0["type"] as? String == "opened" }.count > before }
            let second = try #require(received.messages().last { $0["type"] as? String == "opened" }?["id"] as? Int)
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": second, "data": "echo after-$((20+2))\n"])
            try await TerminalSocketClient.until { received.text(second).contains("after-22") }
        }
        try await client.delete(w.id)
    }
}

extension TerminalSocketTests {
    /// Issue 15, IDE bug 1: pause and resume lost every terminal; the shells ran on in the
    /// workspace but nobody could reach them. Now the same terminal, attached on the same socket,
    /// reaches the same shell after the resume (its variable is still set), and a reload lists it.
    @Test func aTerminalSurvivesPauseAndResume() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "terminal-survives"))
        let client = server.client
        let opened = Mutex<Int?>(nil)
        try await TerminalSocketClient.connect(client, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, ["type": "open", "cols": 80, "rows": 24])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "opened" } }
            let id = try #require(received.messages().first { $0["type"] as? String == "opened" }?["id"] as? Int)
            opened.withLock { $0 = id }
            try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "KEPT=survived; echo set-$((1+1))\n"])
            try await TerminalSocketClient.until { received.text(id).contains("set-2") }

            _ = try await client.lifecycle(w.id, "pause")
            _ = try await client.lifecycle(w.id, "resume")
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "workspace" && $0["state"] as? String == "running" } }
            #expect(!received.messages().contains { $0["type"] as? String == "exit" }, "the terminal ended: \(received.messages())")
            // Input may race the re-bind: send until the shell answers.
            while !received.text(id).contains("survived-42") {
                try await TerminalSocketClient.send(outbound, ["type": "input", "id": id, "data": "echo $KEPT-$((40+2))\n"])
                try await Task.sleep(for: .milliseconds(300))
            }
        }
        let id = try #require(opened.withLock { $0 })
        try await TerminalSocketClient.connect(client, w.id) { outbound, received in
            try await TerminalSocketClient.send(outbound, ["type": "list"])
            try await TerminalSocketClient.until { received.messages().contains { $0["type"] as? String == "terminals" } }
            let listed = received.messages().first { $0["type"] as? String == "terminals" }?["terminals"] as? [[String: Any]]
            #expect(listed?.compactMap { $0["id"] as? Int } == [id])
        }
        try await client.delete(w.id)
    }
}
