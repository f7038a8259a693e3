#if canImport(Glibc)
import Glibc
#endif
import HearthWire

/// Blocking fd helpers that retry EINTR and wait out EAGAIN, since donated fds may arrive non-blocking.
enum Posix {
    static func setBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 && flags & O_NONBLOCK != 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    }

    static func waitReady(_ fd: Int32, events: Int16, timeoutMs: Int32 = -1) -> Bool {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let rc = poll(&pfd, 1, timeoutMs)
            if rc < 0 && errno == EINTR { continue }
            return rc > 0
        }
    }

    /// Writes everything or returns false when the fd is gone.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                _ = waitReady(fd, events: Int16(POLLOUT))
            } else {
                return false
            }
        }
        return true
    }

    static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        if let done = bytes.withContiguousStorageIfAvailable({ writeAll(fd, UnsafeRawBufferPointer($0)) }) {
            return done
        }
        return Array(bytes).withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Reads up to `max` bytes. Returns [] at end of file, nil on error.
    static func readSome(_ fd: Int32, max: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, max) }
            if n >= 0 {
                buffer.removeSubrange(n...)
                return buffer
            }
            if errno == EINTR { continue }
            if errno == EAGAIN {
                // Nothing to read and the peer hung up: that is the end, not a reason to poll again
                // (a hung-up fd polls ready at once, and the loop spun at full speed).
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                while poll(&pfd, 1, -1) < 0 && errno == EINTR {}
                if pfd.revents & Int16(POLLIN) == 0 && pfd.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return [] }
                continue
            }
            if errno == EIO { return [] }  // PTY master after the last slave closed.
            return nil
        }
    }

    static func errorCode(_ err: Int32) -> WireError.Code {
        switch err {
        case ENOENT: .notFound
        case EACCES, EPERM, EROFS: .permissionDenied
        case EEXIST, ENOTEMPTY: .alreadyExists
        case ENOTDIR: .notADirectory
        case EISDIR: .isADirectory
        case ENOSPC, EDQUOT: .noSpace
        case EINVAL, ENAMETOOLONG: .invalidArgument
        case ECONNREFUSED: .connectionRefused
        default: .io
        }
    }

    static func error(_ what: String, _ err: Int32 = errno) -> WireError {
        WireError(errorCode(err), "\(what): \(String(cString: strerror(err)))")
    }
}
