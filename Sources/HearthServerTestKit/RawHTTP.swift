import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// HTTP/1.1 as a browser's keep-alive connection sees it, byte for byte: for tests that send
/// several requests on one connection and check that each answer is framed as its own (no bytes
/// of one response answer the next request).
public enum RawHTTP {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Sends `requests` back to back on one connection to `url`'s host and port (the last should
    /// say `Connection: close`) and returns everything the server sent until it closed, or until
    /// `deadline` passes.
    public static func exchange(_ url: String, _ requests: [String], deadline: Duration = .seconds(60)) async throws -> [UInt8] {
        guard let parsed = URL(string: url), let port = parsed.port else { throw Failed(description: "no port in \(url)") }
        let host = parsed.host ?? "127.0.0.1"
        return try await Task.detached {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failed(description: "socket failed") }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw Failed(description: "connect failed: \(errno)") }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let bytes = Array(requests.joined().utf8)
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw Failed(description: "send failed: \(errno)") }
                written += n
            }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            let end = ContinuousClock.now + deadline
            while ContinuousClock.now < end {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n == 0 { break }
                if n < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                    break
                }
                received += buffer[..<n]
            }
            return received
        }.value
    }

    /// Splits what a server sent into responses, by their framing (Content-Length, chunked, or
    /// none: to the end). `head` says which of the requests were HEAD, in order.
    public static func responses(_ bytes: [UInt8]) throws -> [Response] {
        var out: [Response] = []
        var index = 0
        func line() throws -> String {
            var end = index
            while end + 1 < bytes.count, !(bytes[end] == 13 && bytes[end + 1] == 10) { end += 1 }
            guard end + 1 < bytes.count else { throw Failed(description: "truncated line") }
            defer { index = end + 2 }
            return String(decoding: bytes[index..<end], as: UTF8.self)
        }
        while index < bytes.count {
            let status = try line()
            guard status.hasPrefix("HTTP/1."), let code = status.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
                throw Failed(description: "not a status line: \(status.prefix(80))")
            }
            var headers: [(String, String)] = []
            while true {
                let field = try line()
                if field.isEmpty { break }
                let parts = field.split(separator: ":", maxSplits: 1)
                headers.append((String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""))
            }
            var response = Response(status: code, headers: headers, body: [])
            if let length = response.header("content-length").flatMap({ Int($0) }) {
                guard index + length <= bytes.count else { throw Failed(description: "body shorter than its Content-Length") }
                response.body = Array(bytes[index..<index + length])
                index += length
            } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
                while true {
                    guard let size = Int(try line().split(separator: ";").first ?? "", radix: 16) else { throw Failed(description: "bad chunk") }
                    guard index + size + 2 <= bytes.count else { throw Failed(description: "truncated chunk") }
                    response.body += bytes[index..<index + size]
                    index += size + 2
                    if size == 0 { break }
                }
            } else if code != 204, code != 304 {
                response.body = Array(bytes[index...])
                index = bytes.count
            }
            out.append(response)
        }
        return out
    }
}
