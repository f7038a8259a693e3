import CHearthGuest
import Foundation
import Synchronization

extension HostCommand {
    /// Makes this process a child subreaper and the only caller of `waitpid` for its children.
    /// `hearth serve` calls it once, before it starts anything; a process that also runs children
    /// through Foundation's `Process` (the tests) must not, since this reaper would take their
    /// exit statuses.
    ///
    /// Why: `runsc run --detach` leaves the sandbox and gofer processes orphaned, so they are
    /// re-parented to the nearest subreaper, or to PID 1. `runsc delete` kills the sandbox and
    /// then waits until its pid is gone, and a zombie's pid is not gone until its parent reaps
    /// it. Where PID 1 reaps lazily (this project's CI machines take about 1.8 s) every stop,
    /// delete and rewind waited for that; where Hearth itself is PID 1 (a container without an
    /// init), nothing reaped them at all. Re-parented to Hearth, they are reaped at once.
    ///
    /// Returns whether the kernel accepted the subreaper role; the reaper runs either way.
    @discardableResult
    public static func reapChildren() -> Bool {
        let subreaper = hearth_set_child_subreaper() == 0
        Reaper.shared.start()
        return subreaper
    }

    /// Whether `reapChildren()` was called in this process.
    public static var reapsChildren: Bool { Reaper.shared.isActive }

    /// Every child's exit goes through here once it runs. A pid that `spawn` started is recorded
    /// (under the same lock as the spawn, so a child that exits at once is never taken for an
    /// orphan) and its status kept until `wait` takes it; any other pid is an orphan, reaped
    /// and forgotten.
    final class Reaper: Sendable {
        static let shared = Reaper()

        struct State {
            var active = false
            /// Pids `spawn` started whose exit nobody has taken yet.
            var owned: Set<pid_t> = []
            var exited: [pid_t: Int32] = [:]
            var waiters: [pid_t: [CheckedContinuation<Int32?, Never>]] = [:]
        }

        private let state = Mutex(State())
        /// Signalled on each spawn, so a reaper with no children sleeps instead of polling.
        private let spawned = DispatchSemaphore(value: 0)

        var isActive: Bool { state.withLock { $0.active } }

        func start() {
            let first = state.withLock { state -> Bool in
                defer { state.active = true }
                return !state.active
            }
            guard first else { return }
            let thread = Thread { [self] in reapLoop() }
            thread.name = "hearth-reaper"
            thread.start()
        }

        /// Runs `body` (a `posix_spawn`) under the lock and records the pid it returns, when active.
        func spawn(_ body: () throws -> pid_t) rethrows -> pid_t {
            let (pid, active) = try state.withLock { state -> (pid_t, Bool) in
                let pid = try body()
                if state.active { state.owned.insert(pid) }
                return (pid, state.active)
            }
            if active { spawned.signal() }
            return pid
        }

        /// The exit status of a pid `spawn` recorded, or nil when this reaper does not own it
        /// (not active, or started before it was).
        func wait(_ pid: pid_t) async -> Int32? {
            enum Outcome { case done(Int32), pending, notOwned }
            // The check and the registration are one critical section, so the reaper cannot
            // deliver the status in between.
            return await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
                let outcome = state.withLock { state -> Outcome in
                    if let status = state.exited.removeValue(forKey: pid) {
                        state.owned.remove(pid)
                        return .done(status)
                    }
                    guard state.owned.contains(pid) else { return .notOwned }
                    state.waiters[pid, default: []].append(continuation)
                    return .pending
                }
                switch outcome {
                case .done(let status): continuation.resume(returning: status)
                case .notOwned: continuation.resume(returning: nil)
                case .pending: break
                }
            }
        }

        private func reapLoop() {
            while true {
                var raw: Int32 = 0
                let pid = waitpid(-1, &raw, 0)
                if pid < 0 {
                    if errno == EINTR { continue }
                    // No children (ECHILD): none can appear but through a spawn, which signals.
                    spawned.wait()
                    continue
                }
                let status = HostCommand.exitCode(raw)
                let waiters = state.withLock { state -> [CheckedContinuation<Int32?, Never>] in
                    guard state.owned.contains(pid) else { return [] }   // an orphan: reaped, forgotten
                    if let waiters = state.waiters.removeValue(forKey: pid) {
                        state.owned.remove(pid)
                        return waiters
                    }
                    state.exited[pid] = status
                    return []
                }
                for waiter in waiters { waiter.resume(returning: status) }
            }
        }
    }

    /// The exit code of a raw `waitpid` status, or 128 + the signal that ended it.
    static func exitCode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }
}
