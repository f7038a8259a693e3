import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP client, for what HTTP clients will not do: stay silent, drip, hold connections.
/// The socket is non-blocking and every wait polls it with a zero timeout between short task
/// sleeps, so no test thread blocks in a syscall: Swift's cooperative pool (two threads on a
/// two-core machine) stays free to run the server under test, and tests may run in parallel.
public final class RawSocket: @unchecked Sendable {
    public let fd: Int32
    /// How often a wait looks at the socket again.
    static let pollInterval: Duration = .milliseconds(10)

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    private init(fd: Int32) { self.fd = fd }

    /// Connects to `url`'s port on 127.0.0.1, waiting at most `timeout` for the handshake.
    public static func connect(_ url: String, timeout: Duration = .seconds(10)) async throws -> RawSocket {
        guard let port = url.split(separator: ":").last.flatMap({ UInt16($0) }) else { throw Failed(description: "no port in \(url)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failed(description: "socket: errno \(errno)") }
        let raw = RawSocket(fd: fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            guard errno == EINPROGRESS else { raw.close(); throw Failed(description: "connect: errno \(errno)") }
            guard try await raw.until(within: timeout, { raw.ready(Int16(POLLOUT)) }) else {
                raw.close(); throw Failed(description: "connect timed out")
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { raw.close(); throw Failed(description: "connect: errno \(error)") }
        }
        return raw
    }

    /// Sends `text` (small: whatever the socket buffer takes at once).
    public func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// Whatever arrives within `timeout` (stopping at the first read), or "" on close or timeout.
    public func receive(within timeout: Duration) async -> String {
        var text = ""
        _ = try? await until(within: timeout) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { text = String(decoding: buffer[..<n], as: UTF8.self); return true }
            return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        }
        return text
    }

    /// Whether the server closes the connection within `timeout` (reading and dropping any data).
    public func waitForClose(within timeout: Duration) async -> Bool {
        (try? await until(within: timeout) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if n > 0 { continue }
                return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            }
        }) ?? false
    }

    public func close() { Glibc.close(fd) }

    /// Whether `events` are ready now (a zero-timeout poll: never blocks).
    func ready(_ events: Int16) -> Bool {
        var poller = pollfd(fd: fd, events: events, revents: 0)
        return poll(&poller, 1, 0) == 1 && poller.revents & (events | Int16(POLLERR | POLLHUP)) != 0
    }

    /// Polls `condition` until it holds or `timeout` passes, sleeping between looks.
    func until(within timeout: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if condition() { return true }
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: Self.pollInterval)
        }
    }
}
