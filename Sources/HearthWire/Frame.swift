/// One unit on the host/guest channel.
///
/// Layout on the wire (big-endian): `kind: u8, stream: u32, length: u32, payload: [length]`.
/// Stream 0 is the connection itself; the host opens every other stream.
public struct Frame: Sendable, Equatable {
    public var kind: Kind
    public var stream: UInt32
    public var payload: [UInt8]

    public init(kind: Kind, stream: UInt32, payload: [UInt8] = []) {
        self.kind = kind
        self.stream = stream
        self.payload = payload
    }

    public enum Kind: UInt8, Sendable {
        /// Connection handshake on stream 0. Payload: JSON `Hello`.
        case hello = 1
        /// Opens a stream. Payload: JSON `Request`.
        case open = 2
        /// Bytes. Payload: one `DataChannel` byte, then data. Counts against flow-control credit.
        case data = 3
        /// The sender will send no more on a channel. Payload: one `DataChannel` byte.
        case eof = 4
        /// A typed message inside a stream. Payload: JSON `Control`.
        case control = 5
        /// Grants the peer more credit for `data` on this stream. Payload: u32 increment.
        case window = 6
        /// Aborts a stream. Payload: JSON `WireError` or empty.
        case reset = 7
        /// Host asks the guest to stop writing before a checkpoint (stream 0). The guest answers with `quiesced`.
        case quiesce = 8
        case quiesced = 9
        /// Host hands a freshly started agent its per-boot secret (stream 0, `AgentAuthentication.secretLength`
        /// bytes). Only as the first frame on the channel the host created (stdio, the virtio-serial
        /// port), and only once per agent process: the agent refuses it anywhere else. Version 3.
        case provision = 10
    }

    public static let headerSize = 9

    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.headerSize + payload.count)
        encode(into: &out)
        return out
    }

    public func encode(into out: inout [UInt8]) {
        out.append(kind.rawValue)
        appendBigEndian(stream, to: &out)
        appendBigEndian(UInt32(payload.count), to: &out)
        out.append(contentsOf: payload)
    }
}

/// Which byte stream of a stream a `data` or `eof` frame belongs to.
public enum DataChannel: UInt8, Sendable, Codable {
    case stdin = 0
    case stdout = 1
    case stderr = 2
    /// PTY output and input, tunnel bytes and file contents use one full-duplex channel.
    case bytes = 3
}

@inlinable
func appendBigEndian(_ value: UInt32, to out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: value >> 24))
    out.append(UInt8(truncatingIfNeeded: value >> 16))
    out.append(UInt8(truncatingIfNeeded: value >> 8))
    out.append(UInt8(truncatingIfNeeded: value))
}

extension Frame {
    public static func data(_ stream: UInt32, _ channel: DataChannel, _ bytes: some Collection<UInt8>) -> Frame {
        var payload = [UInt8]()
        payload.reserveCapacity(bytes.count + 1)
        payload.append(channel.rawValue)
        payload.append(contentsOf: bytes)
        return Frame(kind: .data, stream: stream, payload: payload)
    }

    public static func eof(_ stream: UInt32, _ channel: DataChannel) -> Frame {
        Frame(kind: .eof, stream: stream, payload: [channel.rawValue])
    }

    public static func window(_ stream: UInt32, _ increment: UInt32) -> Frame {
        var payload = [UInt8]()
        appendBigEndian(increment, to: &payload)
        return Frame(kind: .window, stream: stream, payload: payload)
    }

    /// The data bytes of a `data` frame, without its channel byte.
    public var dataBytes: ArraySlice<UInt8> { payload.dropFirst() }

    /// The number of credit units a `data` frame consumes.
    public var creditCost: Int { kind == .data ? max(0, payload.count - 1) : 0 }

    public func channel() throws(WireError) -> DataChannel {
        guard let first = payload.first, let channel = DataChannel(rawValue: first) else {
            throw WireError(.malformedFrame, "frame without a valid channel byte")
        }
        return channel
    }

    public func windowIncrement() throws(WireError) -> UInt32 {
        guard payload.count == 4 else { throw WireError(.malformedFrame, "window frame of \(payload.count) bytes") }
        return payload.withUnsafeBufferPointer { p in
            UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
        }
    }
}
