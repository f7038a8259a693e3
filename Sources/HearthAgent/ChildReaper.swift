#if canImport(Glibc)
import Glibc
#endif
import HearthWire

/// The only caller of `waitpid` in the agent. It reaps every child, including orphans
/// re-parented to the agent when it is PID 1, and hands exit statuses to whoever waits for a pid.
final class ChildReaper: @unchecked Sendable {
    static let shared = ChildReaper()

    private let lock = ConditionLock()
    /// Every reaped status, oldest first, bounded: a child can exit before its spawner calls
    /// `wait`, so statuses are kept whether or not anyone asked yet. Orphans land here too.
    private var statuses: [pid_t: ExitStatus] = [:]
    private var order: [pid_t] = []
    private var started = false
    static let retainedStatuses = 4096

    /// Starts reaping (once). Call before a child's exit must be observed.
    func start() {
        lock.withLock {
            if !started {
                started = true
                startThread { [self] in self.reapLoop() }
            }
            lock.broadcast()
        }
    }

    /// Blocks until `pid` exits or the deadline passes. Returns nil on timeout.
    func wait(_ pid: pid_t, untilMonotonicNanos deadline: UInt64?) -> ExitStatus? {
        lock.withLock {
            while true {
                if let status = statuses.removeValue(forKey: pid) {
                    order.removeAll { $0 == pid }
                    return status
                }
                if !lock.wait(untilMonotonicNanos: deadline), let deadline, monotonicNanos() >= deadline {
                    return nil
                }
            }
        }
    }

    private func reapLoop() {
        while true {
            var raw: Int32 = 0
            let pid = waitpid(-1, &raw, 0)
            if pid < 0 {
                if errno == EINTR { continue }
                // No children: sleep until one is spawned.
                lock.withLock { _ = lock.wait(untilMonotonicNanos: monotonicNanos() + 200_000_000) }
                continue
            }
            let status = Self.decode(raw)
            lock.withLock {
                if statuses.updateValue(status, forKey: pid) == nil { order.append(pid) }
                if order.count > Self.retainedStatuses { statuses[order.removeFirst()] = nil }
                lock.broadcast()
            }
        }
    }

    static func decode(_ raw: Int32) -> ExitStatus {
        let signal = raw & 0x7f
        if signal == 0 { return ExitStatus(code: (raw >> 8) & 0xff) }
        return ExitStatus(code: 128 + signal, signal: signal)
    }
}
