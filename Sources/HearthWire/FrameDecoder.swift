/// Incremental, bounded decoder for `Frame`s.
///
/// The peer may be hostile, so the decoder never trusts a length beyond `maxPayload`,
/// never buffers more than one frame plus one read, and reports every violation as a `WireError`.
public struct FrameDecoder: Sendable {
    public let maxPayload: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init(maxPayload: Int = WireLimits.maxFramePayload) {
        self.maxPayload = maxPayload
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() throws(WireError) -> Frame? {
        let available = buffer.count - readIndex
        guard available >= Frame.headerSize else { return nil }
        let header = try FrameHeader(parsing: buffer[readIndex..<(readIndex + Frame.headerSize)], maxPayload: maxPayload)
        guard available >= Frame.headerSize + header.length else { return nil }
        let start = readIndex + Frame.headerSize
        let payload = Array(buffer[start..<(start + header.length)])
        readIndex = start + header.length
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        }
        return Frame(kind: header.kind, stream: header.stream, payload: payload)
    }
}

/// The fixed 9-byte header, validated. Shared by the guest's decoder and the host's NIO decoder.
public struct FrameHeader: Sendable, Equatable {
    public var kind: Frame.Kind
    public var stream: UInt32
    public var length: Int

    public init(parsing bytes: some Collection<UInt8>, maxPayload: Int = WireLimits.maxFramePayload) throws(WireError) {
        guard bytes.count == Frame.headerSize else { throw WireError(.malformedFrame, "short header") }
        var it = bytes.makeIterator()
        let rawKind = it.next()!
        var stream: UInt32 = 0
        for _ in 0..<4 { stream = stream << 8 | UInt32(it.next()!) }
        var length: UInt32 = 0
        for _ in 0..<4 { length = length << 8 | UInt32(it.next()!) }
        guard let kind = Frame.Kind(rawValue: rawKind) else {
            throw WireError(.malformedFrame, "unknown frame kind \(rawKind)")
        }
        guard length <= maxPayload else {
            throw WireError(.frameTooLarge, "frame payload of \(length) bytes exceeds \(maxPayload)")
        }
        self.kind = kind
        self.stream = stream
        self.length = Int(length)
    }
}
