/// SQLite's write-ahead log format (https://sqlite.org/fileformat2.html#walformat), read without
/// SQLite: a 32-byte header, then frames of a 24-byte header and one page. A frame belongs to the
/// log only if it carries the header's salts and continues the cumulative checksum, which is how a
/// shipper tells committed frames from stale ones left by an earlier run of the log.
public enum SQLiteWAL {
    public static let headerSize = 32
    public static let frameHeaderSize = 24

    public struct Header: Sendable, Equatable {
        public var pageSize: Int
        /// The checksum words are big-endian when the magic's low bit is set.
        public var bigEndianChecksum: Bool
        public var salt1: UInt32
        public var salt2: UInt32
        public var checksum: Checksum
    }

    public struct Checksum: Sendable, Equatable, Hashable {
        public var s1: UInt32
        public var s2: UInt32
        public init(s1: UInt32, s2: UInt32) { self.s1 = s1; self.s2 = s2 }
    }

    /// Where a reader stands in one run of the log: the next frame's offset and the checksum it must continue.
    public struct Cursor: Sendable, Equatable {
        public var header: Header
        public var offset: Int
        public var checksum: Checksum

        public init(header: Header) {
            self.header = header
            self.offset = SQLiteWAL.headerSize
            self.checksum = header.checksum
        }

        public var frameSize: Int { SQLiteWAL.frameHeaderSize + header.pageSize }
    }

    /// The frames of whole transactions found after a cursor.
    public struct Scan: Sendable {
        /// The raw frames (header and page), from the cursor's offset up to and including the last commit frame.
        public var frames: ArraySlice<UInt8>
        public var frameCount: Int
        /// The cursor after the last commit frame.
        public var end: Cursor
    }

    public static func parseHeader(_ bytes: some Collection<UInt8>) -> Header? {
        let header = Array(bytes.prefix(headerSize))
        guard header.count == headerSize else { return nil }
        let magic = be32(header, 0)
        guard magic == 0x377f_0682 || magic == 0x377f_0683, be32(header, 4) == 3_007_000 else { return nil }
        let pageSize = Int(be32(header, 8))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { return nil }
        let bigEndian = magic & 1 == 1
        let stored = Checksum(s1: be32(header, 24), s2: be32(header, 28))
        guard checksum(header[0..<24], bigEndian: bigEndian, from: Checksum(s1: 0, s2: 0)) == stored else { return nil }
        return Header(pageSize: pageSize, bigEndianChecksum: bigEndian, salt1: be32(header, 16), salt2: be32(header, 20), checksum: stored)
    }

    /// Reads valid frames from `log` (the whole file, or any suffix starting at `base`) after `cursor`,
    /// stopping at the first frame that is torn, stale or corrupt, and keeps only whole transactions.
    public static func scan(_ log: [UInt8], base: Int = 0, after cursor: Cursor) -> Scan {
        var position = cursor
        var committed = cursor
        var frames = 0, committedFrames = 0
        let frameSize = cursor.frameSize
        while position.offset + frameSize - base <= log.count {
            let start = position.offset - base
            guard be32(log, start + 8) == cursor.header.salt1, be32(log, start + 12) == cursor.header.salt2 else { break }
            var sum = checksum(log[start..<(start + 8)], bigEndian: cursor.header.bigEndianChecksum, from: position.checksum)
            sum = checksum(log[(start + frameHeaderSize)..<(start + frameSize)], bigEndian: cursor.header.bigEndianChecksum, from: sum)
            guard sum == Checksum(s1: be32(log, start + 16), s2: be32(log, start + 20)), be32(log, start) != 0 else { break }
            position.offset += frameSize
            position.checksum = sum
            frames += 1
            if be32(log, start + 4) != 0 { committed = position; committedFrames = frames }
        }
        return Scan(frames: log[(cursor.offset - base)..<(committed.offset - base)], frameCount: committedFrames, end: committed)
    }

    /// SQLite's WAL checksum: Fletcher-like over pairs of 32-bit words in the log's byte order.
    static func checksum(_ bytes: ArraySlice<UInt8>, bigEndian: Bool, from start: Checksum) -> Checksum {
        var s1 = start.s1, s2 = start.s2
        bytes.withUnsafeBytes { raw in
            let count = raw.count / 8
            for pair in 0..<count {
                var x0 = raw.loadUnaligned(fromByteOffset: pair * 8, as: UInt32.self)
                var x1 = raw.loadUnaligned(fromByteOffset: pair * 8 + 4, as: UInt32.self)
                if bigEndian { x0 = x0.bigEndian; x1 = x1.bigEndian } else { x0 = x0.littleEndian; x1 = x1.littleEndian }
                s1 = s1 &+ x0 &+ s2
                s2 = s2 &+ x1 &+ s1
            }
        }
        return Checksum(s1: s1, s2: s2)
    }

    static func be32(_ bytes: some RandomAccessCollection<UInt8>, _ offset: Int) -> UInt32 {
        let start = bytes.index(bytes.startIndex, offsetBy: offset)
        var value: UInt32 = 0
        for index in bytes.indices[start..<bytes.index(start, offsetBy: 4)] { value = value << 8 | UInt32(bytes[index]) }
        return value
    }
}
