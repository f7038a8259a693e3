#if canImport(Glibc)
import Glibc
#endif

/// A run of whole transactions shipped from one database's WAL, stored as a blob (so it is sealed,
/// packed and content-addressed like any chunk). It keeps the frames exactly as SQLite wrote them,
/// with the salts and the checksum they continue, so a restore checks SQLite's own checksums again.
///
/// Encoding: "HWS1", page size, byte-order flag, salt1, salt2, starting checksum (s1, s2), frame
/// count (all big-endian 32-bit except the one-byte flag), then the frames.
public struct WALSegment: Sendable, Equatable {
    static let magic: [UInt8] = Array("HWS1".utf8)
    static let headerSize = 4 + 4 + 1 + 4 * 4 + 4

    public var cursor: SQLiteWAL.Cursor
    public var frameCount: Int
    public var frames: [UInt8]

    public init(from cursor: SQLiteWAL.Cursor, scan: SQLiteWAL.Scan) {
        self.cursor = cursor
        self.frameCount = scan.frameCount
        self.frames = Array(scan.frames)
    }

    public func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.headerSize + frames.count)
        func put(_ value: UInt32) { withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) } }
        put(UInt32(cursor.header.pageSize))
        out.append(cursor.header.bigEndianChecksum ? 1 : 0)
        put(cursor.header.salt1)
        put(cursor.header.salt2)
        put(cursor.checksum.s1)
        put(cursor.checksum.s2)
        put(UInt32(frameCount))
        out += frames
        return out
    }

    /// Decodes a segment and checks every frame's salts and checksum chain; anything else is damage.
    public static func decode(_ bytes: [UInt8]) throws -> WALSegment {
        guard bytes.count >= headerSize, Array(bytes[0..<4]) == magic else { throw StoreError(.damaged, "a WAL segment has no valid header") }
        let pageSize = Int(SQLiteWAL.be32(bytes, 4))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { throw StoreError(.damaged, "a WAL segment has a bad page size") }
        let header = SQLiteWAL.Header(pageSize: pageSize, bigEndianChecksum: bytes[8] == 1, salt1: SQLiteWAL.be32(bytes, 9),
                                      salt2: SQLiteWAL.be32(bytes, 13), checksum: SQLiteWAL.Checksum(s1: 0, s2: 0))
        var cursor = SQLiteWAL.Cursor(header: header)
        cursor.checksum = SQLiteWAL.Checksum(s1: SQLiteWAL.be32(bytes, 17), s2: SQLiteWAL.be32(bytes, 21))
        let frameCount = Int(SQLiteWAL.be32(bytes, 25))
        // Scan the frames as if they followed a WAL header at the segment's header offset.
        var scanCursor = cursor
        scanCursor.offset = headerSize
        let scan = SQLiteWAL.scan(bytes, after: scanCursor)
        guard scan.frameCount == frameCount, scan.end.offset == bytes.count else {
            throw StoreError(.damaged, "a WAL segment fails SQLite's frame checksums after \(scan.frameCount) of \(frameCount) frames")
        }
        return WALSegment(cursor: cursor, frameCount: frameCount, frames: Array(bytes[headerSize...]))
    }

    private init(cursor: SQLiteWAL.Cursor, frameCount: Int, frames: [UInt8]) {
        self.cursor = cursor
        self.frameCount = frameCount
        self.frames = frames
    }

    /// Writes each frame's page into the database file at `fd` and returns the database size in pages
    /// after the last commit frame.
    public func apply(to fd: Int32) throws -> Int {
        let pageSize = cursor.header.pageSize
        let frameSize = SQLiteWAL.frameHeaderSize + pageSize
        var pages = 0
        try frames.withUnsafeBytes { raw in
            var offset = 0
            while offset + frameSize <= raw.count {
                let pageNumber = Int(SQLiteWAL.be32(frames, offset))
                let commit = Int(SQLiteWAL.be32(frames, offset + 4))
                var done = 0
                while done < pageSize {
                    let n = pwrite(fd, raw.baseAddress! + offset + SQLiteWAL.frameHeaderSize + done, pageSize - done, off_t((pageNumber - 1) * pageSize + done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw errno == ENOSPC ? StoreError(.noSpace, "the restore target's disk is full") : StoreError(.io, "cannot write a database page")
                    }
                    done += n
                }
                if commit != 0 { pages = commit }
                offset += frameSize
            }
        }
        return pages
    }
}
