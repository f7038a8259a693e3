import Crypto

/// FastCDC (Xia et al., 2016/2020) with normalized chunking, level 1.
///
/// Sizes: minimum 256 KiB, average 1 MiB, maximum 4 MiB, the restic-like averages with a tighter maximum
/// recommended in the storage notes. Cut points are skipped for the first `minimum` bytes, a harder mask
/// (21 bits) is used until the average and an easier one (19 bits) after it, which narrows the size
/// distribution around the average. The gear table is derived from the volume's data key, so chunk
/// boundaries, and therefore pack sizes, do not fingerprint content across volumes.
public struct FastCDC: Sendable {
    public static let minimum = 256 * 1024
    public static let average = 1024 * 1024
    public static let maximum = 4 * 1024 * 1024

    let gear: [UInt64]
    let minimum: Int
    let average: Int
    let maximum: Int
    let maskSmall: UInt64
    let maskLarge: UInt64

    public init(seed: [UInt8], minimum: Int = FastCDC.minimum, average: Int = FastCDC.average, maximum: Int = FastCDC.maximum) {
        precondition(minimum < average && average < maximum && average.nonzeroBitCount == 1)
        var table: [UInt64] = []
        table.reserveCapacity(256)
        var counter: UInt32 = 0
        while table.count < 256 {
            var input = seed
            withUnsafeBytes(of: counter.littleEndian) { input.append(contentsOf: $0) }
            let digest = Array(SHA256.hash(data: input))
            for word in 0..<4 {
                var value: UInt64 = 0
                for byte in 0..<8 { value = value << 8 | UInt64(digest[word * 8 + byte]) }
                table.append(value)
            }
            counter += 1
        }
        gear = table
        self.minimum = minimum
        self.average = average
        self.maximum = maximum
        let bits = average.trailingZeroBitCount
        // The gear hash shifts left, so its high bits depend on the most bytes: mask from the top.
        maskSmall = ~UInt64(0) << UInt64(64 - (bits + 1))
        maskLarge = ~UInt64(0) << UInt64(64 - (bits - 1))
    }

    /// The length of the first chunk of `data`. `data` holds at least `maximum` bytes unless it is the
    /// end of the input.
    public func cut(_ data: UnsafeRawBufferPointer) -> Int {
        let length = data.count
        if length <= minimum { return length }
        let end = min(length, maximum)
        let normal = min(end, average)
        var hash: UInt64 = 0
        var index = minimum
        return gear.withUnsafeBufferPointer { gear in
            let bytes = data.bindMemory(to: UInt8.self)
            while index < normal {
                hash = (hash &<< 1) &+ gear[Int(bytes[index])]
                if hash & maskSmall == 0 { return index + 1 }
                index += 1
            }
            while index < end {
                hash = (hash &<< 1) &+ gear[Int(bytes[index])]
                if hash & maskLarge == 0 { return index + 1 }
                index += 1
            }
            return end
        }
    }
}
