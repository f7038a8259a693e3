import Synchronization

/// One holder at a time, admitted in the order they took a ticket. `WorkspaceNetworks` is an
/// actor, but it awaits `nft` inside `load`, so without this two loads interleave and the later
/// policy can be committed first and then overwritten by the earlier one: a narrowing that does not
/// stick. The ticket is taken synchronously, while the caller still holds the actor, so the order
/// is the order of the calls (an `async` entry would hop off the actor first and could be overtaken).
final class SerialGate: Sendable {
    private struct State {
        var nextTicket: UInt64 = 0
        var serving: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }
    private let state = Mutex(State())

    init() {}

    /// A place in the queue. Synchronous, so it is taken in the caller's order.
    func ticket() -> UInt64 {
        state.withLock { state in
            defer { state.nextTicket &+= 1 }
            return state.nextTicket
        }
    }

    /// Waits until `ticket` is served. Not cancellable: a load that took a ticket must run (or
    /// leave), or every later one would wait for it for ever.
    func wait(_ ticket: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.serving == ticket { return true }
                state.waiters[ticket] = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Serves the next ticket.
    func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.serving &+= 1
            return state.waiters.removeValue(forKey: state.serving)
        }
        next?.resume()
    }

    /// Runs `body` in `ticket`'s turn, then serves the next.
    func run<T: Sendable>(_ ticket: UInt64, _ body: () async throws -> T) async rethrows -> T {
        await wait(ticket)
        defer { leave() }
        return try await body()
    }
}
