import Foundation

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

    /// Incremental parser for a client reading the stream.
    public struct Parser: Sendable {
        private var buffer: [UInt8] = []
        public init() {}

        public mutating func append(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

        public mutating func next() throws -> (Kind, [UInt8])? {
            guard buffer.count >= headerSize else { return nil }
            let length = Int(buffer[1]) << 24 | Int(buffer[2]) << 16 | Int(buffer[3]) << 8 | Int(buffer[4])
            guard length <= 16 << 20 else { throw ExecStreamError.malformed }
            guard buffer.count >= headerSize + length else { return nil }
            guard let kind = Kind(rawValue: buffer[0]) else { throw ExecStreamError.malformed }
            let payload = Array(buffer[headerSize..<(headerSize + length)])
            buffer.removeFirst(headerSize + length)
            return (kind, payload)
        }
    }

    public enum ExecStreamError: Error { case malformed }
}
