public import Foundation

/// The body of `POST /v1/workspaces/{id}/exec` (`application/vnd.hearth.exec-stream`), and the
/// binary messages of the exec WebSocket: `kind: u8, length: u32 big-endian, payload`.
/// Output is bytes as written; `started`, `exit` and `error` carry JSON.
public enum ExecStream {
    public static let contentType = "application/vnd.hearth.exec-stream"

    public enum Kind: UInt8, Sendable {
        case stdout = 1
        case stderr = 2
        case exit = 3
        case started = 4
        case error = 5
        /// Client to server on the WebSocket: stdin bytes, stdin closed, resize, signal.
        case stdin = 6
        case stdinEOF = 7
        case resize = 8
        case signal = 9
    }

    public struct Exit: Codable, Sendable, Equatable {
        public var code: Int32
        public var signal: Int32?
        public var timed_out: Bool
        public init(code: Int32, signal: Int32?, timed_out: Bool) {
            self.code = code
            self.signal = signal
            self.timed_out = timed_out
        }
    }

    public struct Started: Codable, Sendable {
        public var pid: Int32
        public init(pid: Int32) { self.pid = pid }
    }

    public static let headerSize = 5

    public static func frame(_ kind: Kind, _ payload: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(headerSize + payload.count)
        out.append(kind.rawValue)
        let n = UInt32(payload.count)
        out += [UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
        out.append(contentsOf: payload)
        return out
    }

    public static func json<T: Encodable>(_ kind: Kind, _ value: T) -> [UInt8] {
        frame(kind, Array((try? JSONEncoder().encode(value)) ?? Data()))
    }

    /// Incremental parser of exec-stream frames, for a client reading the stream and for the
    /// server reading the exec WebSocket, whose bytes are hostile.
    ///
    /// Linear in the bytes appended: a cursor moves over the buffer and consumed bytes are dropped
    /// only once they are at least half of it, so a megabyte of five-byte frames costs a megabyte
    /// of copying, not a copy per frame. A declared length above `maxPayload` or an unknown kind
    /// is `malformed` as soon as its header arrives, before any payload is waited for.
    public struct Parser: Sendable {
        public static let defaultMaxPayload = 16 << 20
        private var buffer: [UInt8] = []
        /// Where the next frame starts in `buffer`.
        private var head = 0
        public let maxPayload: Int

        public init(maxPayload: Int = Parser.defaultMaxPayload) { self.maxPayload = max(0, maxPayload) }

        /// Bytes appended and not yet returned in a frame: at most one frame's header and payload
        /// plus what the caller appended since it last drained `next()`.
        public var bufferedBytes: Int { buffer.count - head }

        public mutating func append(_ bytes: some Sequence<UInt8>) {
            compact()
            buffer.append(contentsOf: bytes)
        }

        public mutating func next() throws -> (Kind, [UInt8])? {
            guard buffer.count - head >= headerSize else { return nil }
            let length = Int(buffer[head + 1]) << 24 | Int(buffer[head + 2]) << 16 | Int(buffer[head + 3]) << 8 | Int(buffer[head + 4])
            guard length <= maxPayload, let kind = Kind(rawValue: buffer[head]) else { throw ExecStreamError.malformed }
            guard buffer.count - head - headerSize >= length else { return nil }
            let start = head + headerSize
            let payload = Array(buffer[start..<(start + length)])
            head = start + length
            if head == buffer.count {
                // Keep a small buffer for the next message; give a large one back.
                buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
                head = 0
            }
            return (kind, payload)
        }

        private mutating func compact() {
            guard head > 0, head >= buffer.count / 2 else { return }
            buffer.removeSubrange(0..<head)
            head = 0
        }
    }

    public enum ExecStreamError: Error { case malformed }
}
