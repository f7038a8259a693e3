import Foundation
import HearthWire

/// The guest end of a host connection, driven byte by byte by a test: a stand-in for a hostile agent.
enum RawPeer {
    /// Writes all of `bytes` on a thread of its own, since a flood fills the socket buffer long
    /// before the host reads it.
    static func send(_ fd: Int32, _ bytes: [UInt8]) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                var offset = 0
                while offset < bytes.count {
                    let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n > 0 {
                        offset += n
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else if n < 0 && errno == EAGAIN {
                        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&pfd, 1, 1000)
                    } else {
                        break
                    }
                }
                continuation.resume()
            }
        }
    }

    static func send(_ fd: Int32, _ frames: [Frame]) async {
        await send(fd, frames.flatMap { $0.encoded() })
    }

    /// The next frame the host sends, or nil if none comes within `seconds`.
    static func receive(_ fd: Int32, decoder: inout FrameDecoder, seconds: Int32 = 5) async throws -> Frame? {
        if let frame = try decoder.next() { return frame }
        while true {
            let chunk: [UInt8]? = await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&pfd, 1, seconds * 1000) > 0 else { continuation.resume(returning: nil); return }
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    continuation.resume(returning: n > 0 ? Array(buffer[0..<n]) : nil)
                }
            }
            guard let chunk else { return nil }
            decoder.append(chunk)
            if let frame = try decoder.next() { return frame }
        }
    }
}
