import AsyncHTTPClient
import HearthCore
import HearthProviders
import Logging
public import ServiceLifecycle
import Synchronization

/// The HTTP client of a server's provider calls, owned by a `Service` so it is shut down, and the
/// shutdown awaited, when the server stops: no provider connection outlives the server, and the
/// client's debug-build check at deinit ("not shut down") never fires. The client is made on the
/// first turn that calls a provider, so a server that never calls one holds none.
///
/// It is the first of the application's services: a graceful stop ends the others first (the
/// runner's turns, which use the client) and this one last. A cancelled stop ends all at once; a
/// turn still streaming then fails with its connection, as it would on cancel.
public final class ProviderHTTPClientService: Service, Sendable {
    enum State {
        /// Serving; the client once a turn has asked for it.
        case open(HTTPClient?)
        /// Stopped: a client made now would have no owner to shut it down.
        case stopped
    }

    private let state = Mutex<State>(.open(nil))
    private let shutdowns = Mutex<Int>(0)
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// The server's provider client, made on first use.
    func client() throws -> HTTPClient {
        try state.withLock { state in
            switch state {
            case .stopped:
                throw HearthError(.runtimeUnavailable, "the server is stopping")
            case .open(let existing?):
                return existing
            case .open(nil):
                let made = Providers.makeHTTPClient()
                state = .open(made)
                return made
            }
        }
    }

    public func run() async throws {
        // Router tests build the application more than once from one service: serve again.
        state.withLock { state in
            if case .stopped = state { state = .open(nil) }
        }
        // Returns on a graceful stop, throws on cancellation: either way the client goes.
        try? await gracefulShutdown()
        let client = state.withLock { state -> HTTPClient? in
            defer { state = .stopped }
            if case .open(let client) = state { return client }
            return nil
        }
        guard let client else { return }
        do {
            try await client.shutdown()
        } catch {
            logger.warning("provider HTTP client shutdown failed", metadata: ["error": "\(error)"])
        }
        shutdowns.withLock { $0 &+= 1 }
    }

    /// Stopped, with every client it made shut down (for tests and diagnostics).
    var isStopped: Bool {
        state.withLock { if case .stopped = $0 { true } else { false } }
    }

    /// Whether a turn has made the client (and it is not shut down yet).
    var hasClient: Bool {
        state.withLock { if case .open(_?) = $0 { true } else { false } }
    }

    /// Clients shut down so far.
    var clientsShutDown: Int { shutdowns.withLock { $0 } }
}
