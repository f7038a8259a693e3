import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import NIOCore
import Synchronization
import Testing

/// A server inside a workspace is reached through the agent's tunnel, never the guest's network.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PortTunnelTests {
    @Test func aGuestServerIsReachedThroughTheTunnelWebSocket() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "tunnel"))
        _ = try await server.client.run(w.id, ["sh", "-c", "mkdir -p /srv && echo hello-from-guest > /srv/index.html && cd /srv && nohup python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 &"])
        var listening = false
        for _ in 0..<100 where !listening {
            listening = try await server.client.ports(w.id).contains { $0.port == 8000 }
            if !listening { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(listening)

        // Two requests at once, each its own tunnel; the request is sent, then the local side
        // half-closes, and the guest's answer still arrives in full.
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let received = Mutex<[UInt8]>([])
                    try await server.client.tunnel(w.id, port: 8000, send: { writer in
                        try await writer.write(ByteBuffer(string: "GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n"))
                        try await writer.finish()
                    }, receive: { buffer in received.withLock { $0 += buffer.readableBytesView } })
                    return received.withLock { String(decoding: $0, as: UTF8.self) }
                }
            }
            for try await response in group {
                #expect(response.hasPrefix("HTTP/1.0 200"), "\(response.prefix(200))")
                #expect(response.hasSuffix("hello-from-guest\n"))
            }
        }

        // A port nothing listens on is a clear error, and so is an unknown workspace.
        await #expect(throws: HearthClient.Failure.self) {
            try await server.client.tunnel(w.id, port: 8001, send: { _ in }, receive: { _ in })
        }
        do {
            try await server.client.tunnel(w.id, port: 8001, send: { _ in }, receive: { _ in })
        } catch let failure as HearthClient.Failure {
            #expect(failure.message.contains("nothing listens on port 8001"), "\(failure)")
        }
        do {
            try await server.client.tunnel("no-such-workspace", port: 8000, send: { _ in }, receive: { _ in })
            Issue.record("an unknown workspace must fail")
        } catch let failure as HearthClient.Failure {
            #expect(failure.code == "not_found", "\(failure)")
        }
        try await server.client.delete(w.id)
    }

    /// An error the server can give at once (an unknown workspace) raced the WebSocket upgrade and
    /// could be lost, close frame included, leaving the client waiting forever. The client now
    /// speaks first; hundreds in a row must each end with the error.
    @Test func immediateErrorsNeverLeaveTheClientWaiting() async throws {
        let server = try await LiveServer.shared.value
        for _ in 0..<300 {
            do {
                try await server.client.tunnel("no-such-workspace", port: 8000, send: { _ in }, receive: { _ in })
                Issue.record("an unknown workspace must fail")
            } catch let failure as HearthClient.Failure {
                #expect(failure.code == "not_found", "\(failure)")
            }
        }
    }
}
