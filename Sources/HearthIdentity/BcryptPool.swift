import Foundation
import HearthCore
import Synchronization

/// Runs bcrypt on threads of its own, never on Swift's cooperative pool: a sign-in costs tens of
/// milliseconds of CPU, and a few at once on the shared pool stalled every other request
/// (`/v1/health` went from 3 ms to 600 ms). The queue is bounded; past it, a sign-in is refused
/// at once as "busy" instead of waiting, so a flood of sign-ins costs the server a fixed share.
public final class BcryptPool: Sendable {
    struct Job {
        var work: @Sendable () -> Void
    }

    struct State {
        var queue: [Job] = []
        var head = 0
        var pending: Int { queue.count - head }
    }

    /// The pool every store uses unless given its own: half the cores, so sign-ins never take the
    /// whole machine, and 32 waiting.
    public static let shared = BcryptPool(threads: max(1, ProcessInfo.processInfo.activeProcessorCount / 2), maxQueued: 32)

    public let threads: Int
    public let maxQueued: Int
    private let state = Mutex(State())
    private let condition = NSCondition()

    public init(threads: Int, maxQueued: Int) {
        self.threads = max(1, threads)
        self.maxQueued = max(0, maxQueued)
        for index in 0..<self.threads {
            let thread = Thread { [self] in self.loop() }
            thread.name = "hearth-bcrypt-\(index)"
            thread.start()
        }
    }

    private static let poolThreads = Mutex<Set<UInt>>([])

    /// Whether the caller runs on a bcrypt thread (the tests' proof that hashing left the shared pool).
    public static var isPoolThread: Bool { poolThreads.withLock { $0.contains(UInt(pthread_self())) } }

    /// Jobs waiting for a thread.
    public var queued: Int { state.withLock { $0.pending } }

    /// Runs `work` on a bcrypt thread, or throws `rateLimited` when the queue is full.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job { continuation.resume(with: Result { try work() }) }
            condition.lock()
            let accepted = state.withLock { state -> Bool in
                guard state.pending < maxQueued else { return false }
                state.queue.append(job)
                return true
            }
            if accepted { condition.signal() }
            condition.unlock()
            if !accepted {
                continuation.resume(throwing: HearthError(.rateLimited, "the server is busy signing others in; try again in a moment",
                                                          detail: "retry-after=1"))
            }
        }
    }

    private func loop() {
        Self.poolThreads.withLock { _ = $0.insert(UInt(pthread_self())) }
        while true {
            condition.lock()
            var job: Job?
            while job == nil {
                job = state.withLock { state -> Job? in
                    guard state.pending > 0 else { return nil }
                    let next = state.queue[state.head]
                    state.head += 1
                    // Compacts now and then, so the array does not grow with every job ever run.
                    if state.head > 64, state.head * 2 > state.queue.count {
                        state.queue.removeFirst(state.head)
                        state.head = 0
                    }
                    return next
                }
                if job == nil { condition.wait() }
            }
            condition.unlock()
            job?.work()
        }
    }
}
