import Foundation
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

@Suite(.timeLimit(.minutes(2))) struct AgentNetworkTests {
    @Test func listsListeningPortsAndTunnelsToThem() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let (listener, port) = try EchoServer.start()
        defer { close(listener) }
        guard case .ports(let ports) = try await agent.call(.listPorts) else { Issue.record(); return }
        #expect(ports.contains { $0.port == port && $0.address == "127.0.0.1" })

        let tunnel = try await agent.open(.tunnel(port: port))
        defer { tunnel.close() }
        var opened = false
        for try await event in tunnel { if case .control(.result(.ok)) = event { opened = true; break } }
        #expect(opened)
        try await tunnel.send(.bytes, Array("ping".utf8))
        var echoed: [UInt8] = []
        for try await event in tunnel {
            if case .data(_, let b) = event { echoed += b }
            if echoed.count >= 4 { break }
        }
        #expect(String(decoding: echoed, as: UTF8.self) == "ping")
    }

    @Test func tunnelToAClosedPortFailsClearly() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let port = try EchoServer.freePort()
        let tunnel = try await agent.open(.tunnel(port: port))
        defer { tunnel.close() }
        var failure: WireError?
        for try await event in tunnel { if case .control(.failed(let e)) = event { failure = e; break } }
        #expect(failure?.code == .connectionRefused)
    }
}

/// A one-connection TCP echo server on 127.0.0.1, port chosen by the kernel.
enum EchoServer {
    /// A port nothing listens on: bound, read, closed. No thread is left blocked on it (closing a
    /// socket another thread is accepting on keeps it alive on Linux).
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: bound.sin_port)
    }

    static func start() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 4)
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        Thread.detachNewThread {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                _ = write(client, buffer, n)
            }
            close(client)
        }
        return (fd, UInt16(bigEndian: bound.sin_port))
    }
}
