/// A bounded log that readers replay from a cursor: a terminal's scrollback, an agent's event
/// stream (SSE with `Last-Event-ID`), a pairing room, an LSP channel.
///
/// Every element gets a sequence number, its cursor; the log keeps the newest elements within
/// `limits` (a count and a total weight, bytes for byte chunks) and drops the oldest. A reader
/// whose cursor points at dropped elements is told how many it missed (a gap) and continues from
/// the oldest kept one, so a slow reader costs the log nothing: it never holds anything back.
///
/// Cursors come from clients and are hostile: one past the end reads nothing, and no number can
/// make an offset trap. Byte offsets (`produced`) count every element's weight since the log
/// began, including dropped ones, so acknowledgement windows (`AckWindow`) can be measured in
/// bytes against them.
public struct ReplayLog<Element: Sendable>: Sendable {
    public struct Limits: Sendable, Equatable {
        /// At most this many elements are kept.
        public var maxCount: Int
        /// At most this much total weight is kept; an element heavier than this alone is dropped
        /// as it arrives (readers see it as a gap).
        public var maxWeight: Int

        public init(maxCount: Int, maxWeight: Int) {
            self.maxCount = max(0, maxCount)
            // Half the range, so the kept weight plus one element can never overflow.
            self.maxWeight = min(max(0, maxWeight), Int.max / 2)
        }
    }

    /// What one read returns.
    public struct Read: Sendable {
        /// Elements the reader missed because they were dropped before it read them.
        public var gap: UInt64
        /// The elements from the cursor (or the oldest kept one) on, in order.
        public var elements: [Element]
        /// The cursor of the first element after `elements`: where the next read starts.
        public var next: UInt64
    }

    private struct Entry: Sendable {
        let element: Element
        let weight: Int
    }

    public let limits: Limits
    private let weigh: @Sendable (Element) -> Int
    /// Kept entries are `storage[head...]`; the dead prefix is compacted away in bulk.
    private var storage: [Entry] = []
    private var head = 0
    /// Sequence number of the oldest kept element (equal to `end` when the log is empty).
    public private(set) var start: UInt64 = 0
    /// Sequence number the next element will get.
    public private(set) var end: UInt64 = 0
    /// Total weight of the kept elements.
    public private(set) var weight = 0
    /// Total weight of every element ever appended (saturating): the byte offset just past `end`.
    public private(set) var produced: UInt64 = 0

    public init(limits: Limits, weigh: @escaping @Sendable (Element) -> Int) {
        self.limits = limits
        self.weigh = weigh
    }

    /// Number of elements kept.
    public var count: Int { storage.count - head }
    public var isEmpty: Bool { count == 0 }

    /// Appends an element, dropping the oldest ones past the limits. Returns its sequence number.
    @discardableResult
    public mutating func append(_ element: Element) -> UInt64 {
        let elementWeight = max(0, weigh(element))
        let sequence = end
        end &+= 1
        produced = produced.addingReportingOverflow(UInt64(elementWeight)).overflow ? .max : produced &+ UInt64(elementWeight)
        guard elementWeight <= limits.maxWeight, limits.maxCount > 0 else {
            // Too heavy to keep at all: everything older goes too, so the order stays a suffix.
            dropAll()
            return sequence
        }
        storage.append(Entry(element: element, weight: elementWeight))
        weight += elementWeight
        while count > limits.maxCount || weight > limits.maxWeight { dropOldest() }
        return sequence
    }

    /// Reads from `cursor`, at most `maxCount` elements and, past the first, `maxWeight` weight.
    public func read(from cursor: UInt64, maxCount: Int = .max, maxWeight: Int = .max) -> Read {
        let gap = cursor < start ? start - cursor : 0
        let first = max(cursor, start)
        guard first < end, maxCount > 0 else { return Read(gap: gap, elements: [], next: min(first, end)) }
        let budget = max(0, maxWeight)
        var elements: [Element] = []
        var taken = 0
        var index = head + Int(first - start)
        while index < storage.count, elements.count < maxCount {
            let entry = storage[index]
            if !elements.isEmpty, taken > budget || entry.weight > budget - taken { break }
            elements.append(entry.element)
            taken = taken.addingReportingOverflow(entry.weight).overflow ? .max : taken + entry.weight
            index += 1
        }
        return Read(gap: gap, elements: elements, next: first &+ UInt64(elements.count))
    }

    /// Every kept element, oldest first.
    public var kept: [Element] { storage[head...].map(\.element) }

    /// Drops every kept element (a terminal that is cleared, a room that is reset).
    public mutating func dropAll() {
        storage.removeAll(keepingCapacity: false)
        head = 0
        weight = 0
        start = end
    }

    private mutating func dropOldest() {
        guard head < storage.count else { return }
        weight -= storage[head].weight
        head += 1
        start &+= 1
        // Compact when the dead prefix is the larger half, so each element is moved O(1) times.
        if head >= 64, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }
}

extension ReplayLog where Element == [UInt8] {
    /// A log of byte chunks weighed by their length: a terminal's scrollback.
    public init(maxChunks: Int, maxBytes: Int) {
        self.init(limits: Limits(maxCount: maxChunks, maxWeight: maxBytes)) { $0.count }
    }
}
