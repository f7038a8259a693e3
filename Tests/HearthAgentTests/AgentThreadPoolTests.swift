#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import HearthAgent
import Testing

/// The agent's threads are reused: a finished operation's thread parks and runs the next one
/// (a new thread costs about 1.9 ms inside gVisor's ptrace sandbox), and handing work to the pool
/// never leaves a body waiting behind another.
@Suite(.serialized, .timeLimit(.minutes(1))) struct AgentThreadPoolTests {
    /// The kernel's id of the calling thread (`/proc/thread-self` names `PID/task/TID`); ids are
    /// not handed out again soon, unlike `pthread_t` values, which a new thread may reuse.
    static func threadID() -> String { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? "" }

    @Test func aFinishedThreadRunsTheNextBody() async throws {
        let pool = ThreadPool()
        let first = Channel<String>()
        #expect(pool.run { first.put(Self.threadID()) })
        let firstID = first.take()
        #expect(firstID.contains("/task/"))
        try await Self.until { pool.parked == 1 }
        let second = Channel<String>()
        #expect(pool.run { second.put(Self.threadID()) })
        #expect(second.take() == firstID)
        try await Self.until { pool.parked == 1 }
    }

    @Test func bodiesThatWaitForEachOtherAllRun() async throws {
        // Each body waits until every one has started: a body queued behind a busy thread would
        // never start, and the count would never be reached.
        let pool = ThreadPool()
        let count = 24
        for round in 0..<2 {
            let started = Channel<Int>()
            let gate = Channel<Void>()
            for index in 0..<count {
                #expect(pool.run {
                    started.put(index)
                    gate.take()
                })
            }
            var seen = Set<Int>()
            for _ in 0..<count { seen.insert(started.take()) }
            #expect(seen.count == count, "round \(round)")
            for _ in 0..<count { gate.put(()) }
            try await Self.until { pool.parked == count }
        }
    }

    static func until(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { Issue.record("condition not met in 10 s"); return }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// A blocking queue between threads.
    final class Channel<T>: @unchecked Sendable {
        private let condition = NSCondition()
        private var items: [T] = []
        func put(_ item: T) {
            condition.lock()
            items.append(item)
            condition.signal()
            condition.unlock()
        }
        func take() -> T {
            condition.lock()
            defer { condition.unlock() }
            while items.isEmpty { condition.wait() }
            return items.removeFirst()
        }
    }
}
