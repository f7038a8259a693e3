import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import HummingbirdWSClient
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// The preview proxy against servers in a real sandbox: what the guest sees of a request, what
/// the browser gets back, the grant, and WebSockets.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PreviewTests {
    /// A guest HTTP server that answers every request with the headers it received, and a
    /// WebSocket echo server, both in the standard library of the image's python3.
    static let guestServers = #"""
    import base64, hashlib, http.server, json, socket, threading
    class Echo(http.server.BaseHTTPRequestHandler):
        def reply(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            out = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body.decode()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Set-Cookie", "hearth_session=stolen; Path=/")
            self.send_header("Set-Cookie", "app=1; Path=/")
            self.end_headers()
            self.wfile.write(out)
        do_GET = do_POST = reply
        def log_message(self, *args): pass
    def ws(conn):
        data = b""
        while b"\r\n\r\n" not in data: data += conn.recv(4096)
        key = [l.split(b":", 1)[1].strip() for l in data.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        buf = b""
        def need(n):
            nonlocal buf
            while len(buf) < n:
                chunk = conn.recv(65536)
                if not chunk: raise EOFError
                buf += chunk
        try:
            while True:
                need(2)
                op, n = buf[0] & 15, buf[1] & 127
                i = 2
                if n == 126: need(4); n = int.from_bytes(buf[2:4], "big"); i = 4
                elif n == 127: need(10); n = int.from_bytes(buf[2:10], "big"); i = 10
                need(i + 4 + n)
                mask, payload = buf[i:i + 4], bytes(b ^ buf[i + (j % 4)] for j, b in enumerate(buf[i + 4:i + 4 + n]))
                buf = buf[i + 4 + n:]
                if op == 8: conn.sendall(b"\x88\x00"); return
                reply = b"echo:" + payload
                n = len(reply)
                head = bytes([0x80 | op]) + (bytes([n]) if n < 126 else b"\x7e" + n.to_bytes(2, "big") if n < 65536 else b"\x7f" + n.to_bytes(8, "big"))
                conn.sendall(head + reply)
        except EOFError:
            pass
    def ws_server():
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 8765)); s.listen()
        while True:
            c, _ = s.accept(); threading.Thread(target=ws, args=(c,), daemon=True).start()
    threading.Thread(target=ws_server, daemon=True).start()
    http.server.ThreadingHTTPServer(("127.0.0.1", 8764), Echo).serve_forever()
    """#

    static let noRedirects = HTTPClient(eventLoopGroupProvider: .singleton,
                                        configuration: .init(redirectConfiguration: .disallow))

    static func get(_ url: String, headers: [(String, String)] = [], method: HTTPMethod = .GET, body: String? = nil) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        return try await noRedirects.execute(request, timeout: .seconds(60))
    }

    @Test func thePreviewPassesRequestsThroughAGrantAndStripsHearthsCredentials() async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "preview"))
        _ = try await server.client.run(w.id, ["sh", "-c", "cat > /tmp/servers.py && (python3 /tmp/servers.py > /dev/null 2>&1 &)"], stdin: Self.guestServers)
        try await waitForPorts(server, w.id, [8764, 8765])

        // Nothing listens on 8999: the grant is issued, then the guest's absence is reported.
        let closed = try await Self.get(server.url + "/w/\(w.id)/p/8999/", headers: [("Authorization", "Bearer \(server.token)")])
        let closedGrant = try #require(closed.headers["Location"].first)
        let nobody = try await Self.get(server.url + closedGrant, headers: [("Accept", "text/html")])
        #expect(nobody.status == .badGateway)
        #expect(String(buffer: try await nobody.body.collect(upTo: 1 << 16)).contains("nothing is listening on port 8999"))

        // Opening a preview exchanges the caller's credential for a grant in the path.
        let opened = try await Self.get(server.url + "/w/preview/p/8764/app?x=1", headers: [("Authorization", "Bearer \(server.token)")])
        #expect(opened.status == .found)
        let location = try #require(opened.headers["Location"].first)
        #expect(location.hasPrefix("/w/preview/p/8764/~") && location.hasSuffix("/app?x=1"))
        let grantBase = String(location.dropLast("/app?x=1".count))

        let response = try await Self.get(server.url + location, headers: [
            ("Cookie", "hearth_session=hss_secret; theme=dark"), ("Authorization", "Bearer \(server.token)"),
            ("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Host", "evil.example"), ("Forwarded", "for=6.6.6.6"), ("X-App", "kept"),
        ], method: .POST, body: "hello=1")
        #expect(response.status == .ok)
        #expect(response.headers["Content-Security-Policy"].first?.hasPrefix("sandbox") == true)
        #expect(response.headers["Access-Control-Allow-Origin"].first == "*")
        #expect(response.headers["Set-Cookie"] == ["app=1; Path=/w/preview/p/8764/"],
                "the guest cannot set Hearth's cookie, and its own stay in its preview")
        let seen = try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 20))) as? [String: Any]
        let headers = (seen?["headers"] as? [String: String]) ?? [:]
        #expect(seen?["method"] as? String == "POST" && seen?["path"] as? String == "/app?x=1" && seen?["body"] as? String == "hello=1")
        #expect(headers["Cookie"] == "theme=dark")
        #expect(headers["Authorization"] == nil && headers["X-Forwarded-For"] == nil && headers["X-Forwarded-Host"] == nil && headers["Forwarded"] == nil)
        #expect(headers["X-App"] == "kept" && headers["Host"] == "127.0.0.1:8764")

        // A grant is for its port only, and a made-up one is refused.
        #expect(try await Self.get(server.url + grantBase.replacingOccurrences(of: "/p/8764/", with: "/p/8765/") + "/").status == .unauthorized)
        #expect(try await Self.get(server.url + "/w/preview/p/8764/~" + String(repeating: "0", count: 32) + "/").status == .unauthorized)

        // The previewed app's WebSocket, under its grant, reaches the guest's WebSocket server.
        let wsOpened = try await Self.get(server.url + "/w/preview/p/8765/", headers: [("Authorization", "Bearer \(server.token)")])
        let wsPath = try #require(wsOpened.headers["Location"].first) + "socket"
        let replies = Mutex<[String]>([])
        try await HearthClient(baseURL: server.url, token: nil).webSocket(wsPath) { inbound, outbound, _ in
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            for text in ["hello", String(repeating: "x", count: 70_000)] {
                try await outbound.write(.text(text))
                if case .text(let reply)? = try await messages.next() { replies.withLock { $0.append(reply) } }
            }
            try await outbound.write(.binary(ByteBuffer(bytes: [0, 1, 2, 255])))
            if case .binary(let reply)? = try await messages.next() {
                replies.withLock { $0.append(Array(reply.readableBytesView).map(String.init).joined(separator: ",")) }
            }
        }
        let got = replies.withLock { $0 }
        #expect(got.count == 3)
        #expect(got.first == "echo:hello" && got.dropFirst().first == "echo:" + String(repeating: "x", count: 70_000))
        #expect(got.last == "101,99,104,111,58,0,1,2,255")
        try await server.client.delete(w.id)
    }

    func waitForPorts(_ server: LiveServer, _ id: String, _ ports: Set<Int>) async throws {
        for _ in 0..<200 {
            if Set(try await server.client.ports(id).map { Int($0.port) }).isSuperset(of: ports) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the guest servers never listened")
    }
}
