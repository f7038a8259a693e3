#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

/// Listening TCP sockets, read from /proc/net/tcp and /proc/net/tcp6 (state 0A is LISTEN).
enum PortScanner {
    static func listening() -> [ListeningPort] {
        var ports = Set<ListeningPort>()
        for (file, family) in [("/proc/net/tcp", "ipv4"), ("/proc/net/tcp6", "ipv6")] {
            for port in parse(read(file), family: family) { ports.insert(port) }
        }
        return ports.sorted { ($0.port, $0.family) < ($1.port, $1.family) }
    }

    static func parse(_ text: String, family: String) -> [ListeningPort] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[3] == "0A" else { return nil }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let port = UInt16(local[1], radix: 16) else { return nil }
            return ListeningPort(port: port, address: address(String(local[0])), family: family)
        }
    }

    /// /proc prints addresses as host-order 32-bit words in hex.
    static func address(_ hex: String) -> String {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 8, limitedBy: hex.endIndex) {
            guard let word = UInt32(hex[index..<next], radix: 16) else { return hex }
            bytes += [UInt8(word & 0xff), UInt8(word >> 8 & 0xff), UInt8(word >> 16 & 0xff), UInt8(word >> 24)]
            index = next
        }
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        if bytes.allSatisfy({ $0 == 0 }) { return "::" }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return "::1" }
        return stride(from: 0, to: bytes.count, by: 2)
            .map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    private static func read(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        while let chunk = Posix.readSome(fd, max: 65536), !chunk.isEmpty { bytes += chunk }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Bytes between the host and a TCP port on the guest's loopback. The guest's network stays closed.
enum TunnelOperation {
    static func run(port: UInt16, stream: AgentStream) throws(WireError) {
        let fd = try connectLoopback(port)
        stream.sendControl(.result(.ok))
        // Host to guest on a thread of its own; guest to host on this one. One thread started per
        // tunnel, not two: a preview request is one tunnel, and a thread costs a clone in the sandbox.
        // (What the host sent with the open, before this result, is already queued on the stream.)
        let group = ThreadGroup()
        let writing = group.start {
            while let item = stream.receive() {
                guard case .data(_, let bytes) = item, Posix.writeAll(fd, bytes) else { break }
            }
            shutdown(fd, Int32(SHUT_WR))
        }
        if !writing { shutdown(fd, Int32(SHUT_RDWR)) }
        while let bytes = Posix.readSome(fd, max: WireLimits.maxDataChunk), !bytes.isEmpty {
            if !stream.send(.bytes, bytes[...]) { break }
        }
        stream.sendEOF(.bytes)
        group.wait()
        close(fd)
    }

    static func connectLoopback(_ port: UInt16) throws(WireError) -> Int32 {
        let v4 = hearth_stream_socket(AF_INET)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(v4, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if ok { return v4 }
        close(v4)
        let v6 = hearth_stream_socket(AF_INET6)
        var addr6 = sockaddr_in6()
        addr6.sin6_family = sa_family_t(AF_INET6)
        addr6.sin6_port = port.bigEndian
        addr6.sin6_addr = in6addr_loopback
        let ok6 = withUnsafePointer(to: &addr6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(v6, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
            }
        }
        if ok6 { return v6 }
        let err = errno
        close(v6)
        throw WireError(Posix.errorCode(err), "nothing listens on port \(port) in the workspace")
    }
}
