import Foundation
import HearthCore
import NIOPosix
import Synchronization

/// Runs bcrypt on threads of its own (SwiftNIO's `NIOThreadPool`), never on Swift's cooperative
/// pool: a sign-in costs tens of milliseconds of CPU, and a few at once on the shared pool stalled
/// every other request (`/v1/health` went from 3 ms to 600 ms). At most `threads + maxQueued` jobs
/// are in flight; past that a sign-in is refused at once as "busy" instead of waiting, so a flood of
/// sign-ins costs the server a fixed share.
public final class BcryptPool: Sendable {
    /// The pool every store uses unless given its own: half the cores, so sign-ins never take the
    /// whole machine, and 32 waiting.
    public static let shared = BcryptPool(threads: max(1, ProcessInfo.processInfo.activeProcessorCount / 2), maxQueued: 32)
    static let threadNamePrefix = "hearth-bcrypt-"

    public let threads: Int
    public let maxQueued: Int
    private let pool: NIOThreadPool
    /// Jobs accepted and not finished, and of those, the ones a thread is running.
    private let counts = Mutex((inFlight: 0, running: 0))

    public init(threads: Int, maxQueued: Int) {
        self.threads = max(1, threads)
        self.maxQueued = max(0, maxQueued)
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool._start(threadNamePrefix: Self.threadNamePrefix)
    }

    /// Whether the caller runs on a bcrypt thread (the tests' proof that hashing left the shared
    /// pool): every job marks the pool thread it runs on.
    public static var isPoolThread: Bool { Thread.current.threadDictionary[threadNamePrefix] as? Bool == true }

    /// Jobs waiting for a thread.
    public var queued: Int { counts.withLock { $0.inFlight - $0.running } }

    /// Runs `work` on a bcrypt thread, or throws `rateLimited` when the queue is full.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let accepted = counts.withLock { counts -> Bool in
            guard counts.inFlight < threads + maxQueued else { return false }
            counts.inFlight += 1
            return true
        }
        guard accepted else {
            throw HearthError(.rateLimited, "the server is busy signing others in; try again in a moment", detail: "retry-after=1")
        }
        return try await pool.runIfActive { [self] in
            Thread.current.threadDictionary[Self.threadNamePrefix] = true
            counts.withLock { $0.running += 1 }
            defer { counts.withLock { $0.running -= 1; $0.inFlight -= 1 } }
            return try work()
        }
    }
}
