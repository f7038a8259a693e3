#if canImport(Glibc)
import Glibc
#endif
import HearthWire

/// Serialises whole frames onto the channel fd. Paused while a checkpoint is taken, so no
/// half-written frame is frozen into the snapshot.
final class FrameWriter: @unchecked Sendable {
    private let fd: Int32
    private let lock = ConditionLock()
    private var paused = false
    private var broken = false

    init(fd: Int32) { self.fd = fd }

    /// Returns false once the channel is gone.
    @discardableResult
    func send(_ frame: Frame) -> Bool {
        let bytes = frame.encoded()
        return lock.withLock {
            while paused && !broken { lock.wait() }
            if broken { return false }
            if !Posix.writeAll(fd, bytes) { broken = true }
            return !broken
        }
    }

    /// Writes `frame` and then holds every later writer until `resume()`.
    func sendAndPause(_ frame: Frame) {
        lock.withLock {
            if !broken && !Posix.writeAll(fd, frame.encoded()) { broken = true }
            paused = true
        }
    }

    func resume() {
        lock.withLock {
            paused = false
            lock.broadcast()
        }
    }

    func markBroken() {
        lock.withLock {
            broken = true
            lock.broadcast()
        }
    }
}
