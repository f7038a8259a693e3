import CHearthGuest
public import Foundation
public import HearthCore

/// A blocking client of QEMU's machine protocol (QMP), used from a thread of its own.
///
/// QMP is one JSON object per line. Replies carry `return` or `error`; asynchronous `event`
/// lines may arrive at any time and are skipped. Every read has a deadline, so a wedged QEMU
/// costs a timeout, never a hung server. One caller at a time: it is handed from thread to thread, never shared.
final class QMPClient: @unchecked Sendable {
    private let fd: Int32
    private var buffer = [UInt8]()
    /// Events that arrived while waiting for a reply, oldest first.
    private var events: [[String: Any]] = []

    struct Failure: Error, CustomStringConvertible {
        var description: String
        var timedOut = false
    }

    init(path: String, timeout: Duration = .seconds(10)) throws {
        fd = VMFiles.connect(socket: path)
        guard fd >= 0 else { throw Failure(description: "connect \(path): \(String(cString: strerror(errno)))") }
        setTimeout(timeout)
        _ = try readMessage() // greeting
        _ = try execute("qmp_capabilities")
    }

    deinit { close(fd) }

    /// Migration skips RAM in shared memory backends: both ends map the same file. Set on the
    /// saving and on the loading QEMU.
    func ignoreSharedMemory() throws {
        try execute("migrate-set-capabilities", ["capabilities": [["capability": "x-ignore-shared", "state": true]]])
    }

    /// Runs a command and returns its `return` value.
    @discardableResult
    func execute(_ command: String, _ arguments: [String: Any]? = nil, passing passedFD: Int32? = nil) throws -> Any {
        var message: [String: Any] = ["execute": command]
        if let arguments { message["arguments"] = arguments }
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(UInt8(ascii: "\n"))
        let sent = data.withUnsafeBytes { raw -> Int in
            if let passedFD { return hearth_send_with_fd(fd, raw.baseAddress, raw.count, passedFD) }
            return send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
        }
        guard sent == data.count else { throw Failure(description: "\(command): send failed: \(String(cString: strerror(errno)))") }
        while true {
            let reply = try readMessage()
            if reply["event"] != nil {
                if events.count < 256 { events.append(reply) }
                continue
            }
            if let error = reply["error"] as? [String: Any] {
                throw Failure(description: "\(command): \(error["desc"] as? String ?? "QEMU refused")")
            }
            return reply["return"] ?? [:]
        }
    }

    /// Waits for an event that `matches`, without polling QEMU: every command interrupts a TCG
    /// vCPU, and a tight query loop can starve a booting guest. Returns false if `stillWaiting`
    /// (checked about every `tick`) says to give up.
    func waitForEvent(tick: Duration = .milliseconds(250), stillWaiting: () throws -> Void,
                      matches: ([String: Any]) -> Bool) throws {
        if let index = events.firstIndex(where: matches) {
            events.removeSubrange(...index)
            return
        }
        setTimeout(tick)
        defer { setTimeout(.seconds(10)) }
        while true {
            try stillWaiting()
            do {
                let message = try readMessage()
                if message["event"] != nil, matches(message) { return }
            } catch let failure as Failure where failure.timedOut {
                continue
            }
        }
    }

    private func setTimeout(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func readMessage() throws -> [String: Any] {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw Failure(description: "QEMU sent a line that is not a JSON object")
                }
                return object
            }
            guard buffer.count < 1 << 20 else { throw Failure(description: "QMP line too long") }
            var chunk = [UInt8](repeating: 0, count: 16384)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[0..<n]
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw Failure(description: "QEMU did not answer in time", timedOut: true)
            } else {
                throw Failure(description: "QEMU closed the QMP connection")
            }
        }
    }
}

/// Runs blocking work on a thread of its own, off the cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}
