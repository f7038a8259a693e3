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
    /// Sandboxes started by an earlier run of the server stay with whoever adopted them then.
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
    ///
    /// An exited child is first seen without being reaped (`waitid` with `WNOWAIT`, which gives
    /// its status too), its status recorded under the lock, and only then reaped: while `signal`
    /// holds the lock and finds no status for a pid, that pid (a zombie at worst) cannot have been
    /// handed to another process.
    final class Reaper: Sendable {
        static let shared = Reaper()

        struct State {
            var active = false
            /// Pids `spawn` started whose exit nobody has taken yet.
            var owned: Set<pid_t> = []
            /// Statuses of owned pids that exited before anyone waited for them.
            var exited: [pid_t: Int32] = [:]
            var waiters: [pid_t: [CheckedContinuation<Int32?, Never>]] = [:]
            /// The reaper found no children and sleeps until a spawn wakes it.
            var idle = false
            /// Spawns so far: a spawn between the reaper's look and its sleep is not missed.
            var spawns: UInt64 = 0
        }

        private let state = Mutex(State())
        /// Signalled by a spawn only while the reaper is idle, once.
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
            let (pid, wake) = try state.withLock { state -> (pid_t, Bool) in
                let pid = try body()
                guard state.active else { return (pid, false) }
                // The kernel hands out a pid again only after it was reaped: whatever is still
                // kept under this number belongs to a process nobody waited for.
                state.owned.insert(pid)
                state.exited[pid] = nil
                state.spawns &+= 1
                defer { state.idle = false }
                return (pid, state.idle)
            }
            if wake { spawned.signal() }
            return pid
        }

        /// Sends `signal` to the process group and the process `pid` leads, unless it has exited
        /// (so never to a process that took the number since). False when it was not sent.
        /// Without the reaper, the caller's own waiter reaps, and this signals as `kill` does.
        func signal(_ pid: pid_t, _ signal: Int32) -> Bool {
            state.withLock { state in
                if state.active {
                    guard state.owned.contains(pid), state.exited[pid] == nil else { return false }
                }
                // A group of its own (`spawn` sets it), so what the child started goes too. The
                // group's signal may end the child and let its waiter reap it before the second
                // `kill`, so either landing counts as sent.
                let group = kill(-pid, signal) == 0
                let child = kill(pid, signal) == 0
                return group || child
            }
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
                let seen = state.withLock { $0.spawns }
                var status: Int32 = 0
                let pid = hearth_wait_exited_child(&status)
                if pid <= 0 {
                    if errno == EINTR { continue }
                    // No children (ECHILD): none can appear but through a spawn, which wakes this
                    // once it is idle. A spawn since `seen` may have come after the look: look again.
                    let sleep = state.withLock { state -> Bool in
                        guard state.spawns == seen else { return false }
                        state.idle = true
                        return true
                    }
                    if sleep { spawned.wait() }
                    continue
                }
                // Recorded while the pid is still a zombie, so `signal` never reaches its next owner.
                let waiters = state.withLock { state -> [CheckedContinuation<Int32?, Never>] in
                    guard state.owned.contains(pid) else { return [] }   // an orphan: reaped below, forgotten
                    if let waiters = state.waiters.removeValue(forKey: pid) {
                        state.owned.remove(pid)
                        return waiters
                    }
                    state.exited[pid] = status
                    return []
                }
                var raw: Int32 = 0
                while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
                for waiter in waiters { waiter.resume(returning: status) }
            }
        }
    }
}
