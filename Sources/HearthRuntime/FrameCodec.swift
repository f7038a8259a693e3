public import HearthWire
public import NIOCore

/// NIO framing for the agent channel. Validation is the contract's own `FrameHeader`, so host and
/// guest reject exactly the same inputs.
struct FrameByteDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let headerBytes = buffer.getBytes(at: buffer.readerIndex, length: Frame.headerSize) else {
            return .needMoreData
        }
        let header = try FrameHeader(parsing: headerBytes)
        guard buffer.readableBytes >= Frame.headerSize + header.length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        let payload = buffer.readBytes(length: header.length) ?? []
        context.fireChannelRead(wrapInboundOut(Frame(kind: header.kind, stream: header.stream, payload: payload)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

struct FrameByteEncoder: MessageToByteEncoder {
    typealias OutboundIn = Frame

    func encode(data frame: Frame, out: inout ByteBuffer) throws {
        out.reserveCapacity(Frame.headerSize + frame.payload.count)
        out.writeInteger(frame.kind.rawValue)
        out.writeInteger(frame.stream)
        out.writeInteger(UInt32(frame.payload.count))
        out.writeBytes(frame.payload)
    }
}

/// Hands decoded frames to the connection and reports the channel's end.
final class AgentFrameHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame

    private let connection: AgentConnection
    init(connection: AgentConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.receive(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.fail(AgentConnection.violation(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.fail(nil)
    }
}
