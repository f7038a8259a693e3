import Synchronization

/// A `ReplayLog` shared by one writer and any number of readers that wait for what comes next.
///
/// Readers pull by cursor, so nothing is queued per reader: however many readers there are and
/// however slowly they read, memory is the log's bound. A reader that fell behind the log's
/// bound gets a gap and carries on. A cancelled reader stops waiting at once.
public actor ReplayChannel<Element: Sendable> {
    private var log: ReplayLog<Element>
    /// Behind a lock, not the actor, so a cancelled reader is woken synchronously from its
    /// cancellation handler without starting a task.
    private let waiters = Mutex<[Int: CheckedContinuation<Void, Never>]>([:])
    private var nextWaiter = 0
    public private(set) var isClosed = false

    public init(_ log: ReplayLog<Element>) {
        self.log = log
    }

    /// The log as it is now.
    public var snapshot: ReplayLog<Element> { log }
    public var end: UInt64 { log.end }
    public var waitingReaders: Int { waiters.withLock { $0.count } }

    /// Appends an element and wakes every waiting reader. Ignored once closed.
    @discardableResult
    public func append(_ element: Element) -> UInt64? {
        guard !isClosed else { return nil }
        let sequence = log.append(element)
        wakeAll()
        return sequence
    }

    /// No more elements will come: readers drain what is kept, then get nil.
    public func close() {
        isClosed = true
        wakeAll()
    }

    /// Reads from `cursor`, waiting while there is nothing new. Nil once the channel is closed and
    /// the reader has everything, or when the reading task is cancelled.
    public func next(from cursor: UInt64, maxCount: Int = 256, maxWeight: Int = 1 << 20) async -> ReplayLog<Element>.Read? {
        while true {
            let read = log.read(from: cursor, maxCount: maxCount, maxWeight: maxWeight)
            if !read.elements.isEmpty || read.gap > 0 { return read }
            if isClosed || Task.isCancelled { return nil }
            let id = nextWaiter
            nextWaiter &+= 1
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    waiters.withLock { $0[id] = continuation }
                    // Cancelled before it was registered: the handler found nothing to wake.
                    if Task.isCancelled { wake(id) }
                }
            } onCancel: {
                wake(id)
            }
        }
    }

    private nonisolated func wake(_ id: Int) {
        waiters.withLock { $0.removeValue(forKey: id) }?.resume()
    }

    private func wakeAll() {
        let all = waiters.withLock { waiters in
            defer { waiters.removeAll() }
            return waiters
        }
        for continuation in all.values { continuation.resume() }
    }
}
