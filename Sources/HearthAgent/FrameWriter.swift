#if canImport(Glibc)
import Glibc
#endif
import HearthWire

/// The one lock under which frames are written to an fd. Every session served on the same fd
/// (stdio and a microVM's port carry one session after another) shares it, so a frame of an old
/// session's operation can never interleave with, or land inside, a frame of the next one.
final class ChannelWriteLock: Sendable {
    let lock = ConditionLock()
    init() {}
}

/// Serialises whole frames onto the channel fd for one session. Paused while a checkpoint is
/// taken, so no half-written frame is frozen into the snapshot; retired when the session ends, so
/// an operation thread that outlives its session cannot write to the fd afterwards.
final class FrameWriter: @unchecked Sendable {
    private let fd: Int32
    private let lock: ConditionLock
    private var paused = false
    private var broken = false

    init(fd: Int32, channel: ChannelWriteLock = ChannelWriteLock()) {
        self.fd = fd
        self.lock = channel.lock
    }

    /// Returns false once the channel is gone or this session is over.
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

    /// Refuses every later frame. Returns only once no frame of this writer is being written: it
    /// takes the lock that every write holds, so after it the fd may be closed (and its number
    /// reused by the next connection) with no thread of this session still writing to it.
    func retire() {
        lock.withLock {
            broken = true
            lock.broadcast()
        }
    }
}
