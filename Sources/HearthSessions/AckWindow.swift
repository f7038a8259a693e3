/// One reader's flow-control state against a log's byte offsets (`ReplayLog.produced`):
/// acknowledged ≤ delivered ≤ produced.
///
/// A client's numbers are hostile: an acknowledgement counts only bytes the server has already
/// written to that client's connection (`delivered`), so acknowledging without reading cannot open
/// the window, and no number a client sends can overflow.
public struct AckWindow: Sendable, Equatable {
    /// Bytes the client has said it consumed.
    public private(set) var acknowledged: UInt64
    /// Bytes the server has written to the client's connection.
    public private(set) var delivered: UInt64

    /// A reader that starts at byte offset `offset` (what it has already, or where its replay starts).
    public init(at offset: UInt64) {
        acknowledged = offset
        delivered = offset
    }

    /// The connection wrote `bytes` more; never past `produced`. True if anything moved.
    @discardableResult
    public mutating func deliver(_ bytes: UInt64, produced: UInt64) -> Bool {
        let before = delivered
        delivered = Self.advance(delivered, by: bytes, limit: produced)
        return delivered != before
    }

    /// The client acknowledged `bytes` more; never past what was delivered. True if anything moved.
    @discardableResult
    public mutating func acknowledge(_ bytes: UInt64) -> Bool {
        let before = acknowledged
        acknowledged = Self.advance(acknowledged, by: bytes, limit: delivered)
        return acknowledged != before
    }

    /// Whether this reader holds the window shut: more than `window` bytes produced and unacknowledged.
    public func holds(_ window: UInt64, produced: UInt64) -> Bool {
        produced > acknowledged && produced - acknowledged > window
    }

    /// Bytes produced and not yet written to the connection: what is queued for it.
    public func queued(produced: UInt64) -> UInt64 {
        produced > delivered ? produced - delivered : 0
    }

    /// `offset + by`, saturating, and never past `limit` (nor below `offset`).
    public static func advance(_ offset: UInt64, by: UInt64, limit: UInt64) -> UInt64 {
        let (sum, overflow) = offset.addingReportingOverflow(by)
        return overflow ? max(offset, limit) : max(offset, min(sum, limit))
    }
}
