import AsyncHTTPClient
import Foundation
import Glibc
import HearthAPI
import HearthClient
import HearthServerTestKit
import NIOCore
import Testing

/// The ports panel's push: `GET /v1/workspaces/{ws}/ports/events` sends the list at once and
/// again when a port starts listening, without the page asking (issue 15, item 6). The runtime is
/// the test kit's ProcessRuntime, whose agent reads this host's /proc/net/tcp, so a socket this
/// test opens is a port the workspace "listens" on.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PortEventTests {
    @Test func aNewListenerIsPushedWithoutAsking() async throws {
        let live = try await LiveServer.scratch("port-events")
        let workspace = try await live.client.create(.init(name: "ports"))
        var request = HTTPClientRequest(url: live.url + "/v1/workspaces/\(workspace.id)/ports/events")
        request.headers.add(name: "Authorization", value: "Bearer " + live.token)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "Content-Type") == "text/event-stream")

        var events = EventReader(response.body.makeAsyncIterator())
        let first = try #require(try await events.next())
        #expect(first.name == "ports" && first.id == "1")
        let initial = try JSONDecoder().decode(API.PortList.self, from: Data(first.data.utf8))

        let (fd, port) = try Self.listen()
        defer { close(fd) }
        #expect(!initial.ports.contains { $0.port == port })
        let second = try #require(try await events.next())
        #expect(second.name == "ports" && second.id == "2")
        let after = try JSONDecoder().decode(API.PortList.self, from: Data(second.data.utf8))
        #expect(after.ports.contains { $0.port == port }, "the new listener \(port) was not pushed: \(second.data)")
        await live.stop()
    }

    @Test func theStreamNeedsACredentialAndAnExistingWorkspace() async throws {
        let live = try await LiveServer.scratch("port-events-tenancy")
        let workspace = try await live.client.create(.init(name: "mine"))
        let request = HTTPClientRequest(url: live.url + "/v1/workspaces/\(workspace.id)/ports/events")
        let anonymous = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(anonymous.status == .unauthorized)
        var missing = HTTPClientRequest(url: live.url + "/v1/workspaces/ws_nosuchworkspace/ports/events")
        missing.headers.add(name: "Authorization", value: "Bearer " + live.token)
        #expect(try await HTTPClient.shared.execute(missing, timeout: .seconds(30)).status == .notFound)
        await live.stop()
    }

    static func listen() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, Glibc.listen(fd, 1) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}

/// Server-Sent Events from a response body: `event:`, `id:` and `data:` lines, comments skipped.
struct EventReader {
    struct Event { var name = "message", id = "", data = "" }
    var body: HTTPClientResponse.Body.AsyncIterator
    var pending = ""

    init(_ body: HTTPClientResponse.Body.AsyncIterator) { self.body = body }

    mutating func next() async throws -> Event? {
        while true {
            if let range = pending.range(of: "\n\n") {
                let block = String(pending[..<range.lowerBound])
                pending.removeSubrange(..<range.upperBound)
                var event = Event()
                var isEvent = false
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("event: ") { event.name = String(line.dropFirst(7)); isEvent = true }
                    else if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                    else if line.hasPrefix("data: ") { event.data += String(line.dropFirst(6)); isEvent = true }
                }
                if isEvent { return event }
                continue
            }
            guard pending.utf8.count < 1 << 20, let buffer = try await body.next() else { return nil }
            pending += String(buffer: buffer)
        }
    }
}
