#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

/// `hearth-sync` inside a workspace (issue 16): a durability barrier. A caller connects to the
/// agent's sync socket; the agent asks the host on the `syncChannel` the host keeps open, and
/// answers the caller with the generation that holds everything it wrote before it asked.
///
/// Tickets let one commit answer every caller that asked before it began. The agent keeps at most
/// one ticket unanswered on the channel, the newest at the time it asks, so a thousand callers
/// cost the host a commit or two. A ticket the host never answered (its channel went away: a
/// pause, a server restart) is asked for again on the next channel; the caller just waits longer.
///
/// Nothing here is a trust boundary for the host. It is not one inside the workspace either: any
/// process there, of any uid, can reach the agent's socket, open a `syncChannel` of its own (the
/// relay takes the newest), and answer the workspace's callers falsely, root's included. What
/// `hearth-sync` promises holds for a workspace that does not attack itself.
public final class GuestSyncRelay: @unchecked Sendable {
    public enum Outcome: Equatable, Sendable {
        case synced(generation: UInt64)
        case failed(String)
    }

    private let lock = ConditionLock()
    private var issued: UInt64 = 0
    private var pending: Set<UInt64> = []
    private var outcomes: [UInt64: Outcome] = [:]
    /// The host's channel in use: the newest one opened.
    private var channel: AgentStream?
    /// The ticket asked for on `channel` and not yet answered.
    private var asked: UInt64?

    /// Callers waiting at once; one more is refused at once. Bounds the agent's threads and tables.
    public static let maxWaiting = 64

    public init() {}

    /// Callers waiting for an answer now.
    public var waitingCallers: Int { lock.withLock { pending.count } }

    /// A new caller's ticket, or nil when `maxWaiting` callers wait already.
    func issue() -> UInt64? {
        lock.withLock {
            guard pending.count < Self.maxWaiting else { return nil }
            issued &+= 1
            pending.insert(issued)
            lock.broadcast()
            return issued
        }
    }

    /// Blocks until `ticket` is answered. `gone` is asked about once a second; when it says the
    /// caller has left, the ticket is withdrawn and nil returned.
    func wait(for ticket: UInt64, gone: () -> Bool) -> Outcome? {
        while true {
            let outcome: Outcome? = lock.withLock {
                if let outcome = outcomes.removeValue(forKey: ticket) { return outcome }
                lock.wait(untilMonotonicNanos: monotonicNanos() &+ 1_000_000_000)
                return outcomes.removeValue(forKey: ticket)
            }
            if let outcome { return outcome }
            if gone() {
                lock.withLock {
                    pending.remove(ticket)
                    outcomes[ticket] = nil
                }
                return nil
            }
        }
    }

    /// Serves the host's `syncChannel` until it closes or a newer one replaces it. Runs on the
    /// stream's own operation thread, which is the only one that writes to it.
    func serve(_ stream: AgentStream) {
        lock.withLock {
            channel = stream
            asked = nil
            lock.broadcast()
        }
        // Neither handler may touch the stream's lock: the control handler runs under it.
        stream.onClose { [self] in
            lock.withLock {
                if channel === stream {
                    channel = nil
                    asked = nil
                }
                lock.broadcast()
            }
        }
        stream.handleControls { [self] control in
            switch control {
            case .synced(let ticket, let generation): settle(upTo: ticket, .synced(generation: generation), on: stream)
            case .syncFailed(let ticket, let error): settle(upTo: ticket, .failed(error.message), on: stream)
            default: break
            }
        }
        while true {
            let ask: UInt64? = lock.withLock {
                while channel === stream {
                    if asked == nil, let newest = pending.max() {
                        asked = newest
                        return newest
                    }
                    lock.wait()
                }
                return nil
            }
            guard let ask else { return }
            stream.sendControl(.syncWanted(ticket: ask))
        }
    }

    /// Every ticket up to `ticket` gets `outcome`: each was issued before the ticket the host
    /// answered was asked for, so before the host's commit began.
    private func settle(upTo ticket: UInt64, _ outcome: Outcome, on stream: AgentStream) {
        lock.withLock {
            guard channel === stream else { return }
            for waiting in pending where waiting <= ticket { outcomes[waiting] = outcome }
            pending = pending.filter { $0 > ticket }
            if let asked, asked <= ticket { self.asked = nil }
            lock.broadcast()
        }
    }

    /// Answers one caller on `client` (a connection to the sync socket), then closes it.
    func answer(_ client: Int32) {
        defer { close(client) }
        guard let ticket = issue() else {
            _ = Posix.writeAll(client, Array("error: too many hearth-sync calls are waiting\n".utf8))
            return
        }
        switch wait(for: ticket, gone: { Self.hungUp(client) }) {
        case .synced(let generation)?: _ = Posix.writeAll(client, Array("generation \(generation)\n".utf8))
        case .failed(let message)?: _ = Posix.writeAll(client, Array("error: \(message.prefix(1024))\n".utf8))
        case nil: return
        }
    }

    /// Whether the caller closed its end (it sends nothing, so readable means end-of-file).
    static func hungUp(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    }
}
