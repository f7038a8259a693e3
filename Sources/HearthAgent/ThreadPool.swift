#if canImport(Glibc)
import Glibc
#endif

/// Worker threads that finished their operation park here and run the next one, instead of
/// exiting. A new thread costs a clone in the sandbox: about 1.9 ms each under gVisor's ptrace
/// platform, measured, and an exec starts four (the operation, two output pumps, the input feed),
/// a tunnel two. At most `maxIdle` park, each for at most `idleNanos`; a body that never returns
/// (an accept loop) simply keeps its thread.
///
/// Work is handed over only to a thread that is parked and waiting (`queue.count < idle`, under
/// the lock), so a handed-over body never waits behind another one.
final class ThreadPool: @unchecked Sendable {
    static let shared = ThreadPool()
    static let maxIdle = 32
    static let idleNanos: UInt64 = 60_000_000_000

    private let lock = ConditionLock()
    /// Workers parked in `park`.
    private var idle = 0
    private var queue: [@Sendable () -> Void] = []

    func run(_ body: @escaping @Sendable () -> Void) -> Bool {
        let handed = lock.withLock { () -> Bool in
            guard queue.count < idle else { return false }
            queue.append(body)
            lock.broadcast()
            return true
        }
        if handed { return true }
        // Handed over in a box the thread empties: the thread's own closure lives as long as the
        // thread, and must not keep its first operation's session and buffers alive with it.
        let first = Handoff(body)
        return startDedicatedThread { [self] in work(first: first.take()) }
    }

    private func work(first: (@Sendable () -> Void)?) {
        var next = first
        while next != nil {
            Self.runAndForget(&next)
            next = park()
        }
    }

    /// Runs the body and lets go of it before the thread parks.
    private static func runAndForget(_ slot: inout (@Sendable () -> Void)?) {
        guard let body = slot else { return }
        slot = nil
        body()
    }

    private final class Handoff: @unchecked Sendable {
        private var body: (@Sendable () -> Void)?
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        /// Called once, by the new thread before anything else, so no lock is needed.
        func take() -> (@Sendable () -> Void)? {
            defer { body = nil }
            return body
        }
    }

    /// The next body for this thread, or nil when it should end (enough are parked, or none came).
    private func park() -> (@Sendable () -> Void)? {
        lock.withLock {
            guard idle < Self.maxIdle else { return nil }
            idle += 1
            defer { idle -= 1 }
            let deadline = monotonicNanos() + Self.idleNanos
            while queue.isEmpty {
                if !lock.wait(untilMonotonicNanos: deadline), queue.isEmpty { return nil }
            }
            return queue.removeFirst()
        }
    }

    /// Parked workers (tests).
    var parked: Int { lock.withLock { idle } }
}
