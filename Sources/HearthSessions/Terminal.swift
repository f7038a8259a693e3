import HearthCore

/// One PTY in a workspace that outlives the browser connections watching it, and a pause of its
/// workspace (with `reattach`, it reaches the same shell again after the resume): a dropped
/// connection or a page reload re-attaches and replays the scrollback, and the shell and its
/// running job are still there.
///
/// The scrollback is a `ReplayLog` of output chunks (the last `scrollbackLimit` bytes), and each
/// attached client has an `AckWindow` over its byte offsets. Output flows under acknowledgement:
/// while any attached client has more than `window` bytes sent but not acknowledged, the terminal
/// stops pulling from its backend, whose own credit then stops the guest's PTY. So `yes` neither
/// freezes a tab nor grows the server's memory. With no client attached, output is read and only
/// the scrollback is kept.
///
/// A client's numbers are hostile: an acknowledgement counts only bytes its connection has
/// already written to its socket (`delivered`), so acknowledging without reading cannot open the
/// window, and what is queued for a client never exceeds the window and one chunk. A client that
/// holds the window shut for `stallLimit` without progress is dropped, so a tab that stopped
/// reading (or a viewer of a shared terminal) cannot stall the terminal for everyone.
public actor Terminal {
    struct Client {
        var window: AckWindow
        /// When this client last had an acknowledgement or a write go through.
        var progressed: ContinuousClock.Instant
        /// Attached read-only: a viewer of a shared terminal.
        let readOnly: Bool
        /// Called when the client is dropped as too slow: its connection is not draining, so the
        /// `dropped` event queued behind its output would never be read. The connection closes.
        let onStall: @Sendable () -> Void
        let output: AsyncStream<TerminalOutput>.Continuation
    }

    public static let scrollbackLimit = 256 * 1024
    /// Chunks kept in the scrollback: a guest that sends one byte per frame cannot make the
    /// scrollback a quarter of a million entries.
    public static let scrollbackChunks = 4096
    public static let window: UInt64 = 512 * 1024
    public static let defaultStallLimit: Duration = .seconds(30)

    public nonisolated let id: Int
    public nonisolated let workspaceID: String
    private(set) var backend: any TerminalBackend
    /// Reaches the same process again after its channel went away (the workspace was paused, the
    /// agent reconnected): waits until the workspace runs, then re-binds. Nil: the terminal ends.
    let reattach: (@Sendable () async throws -> any TerminalBackend)?
    /// Whether the channel is gone and the terminal waits to reach its process again.
    public private(set) var suspended = false
    private var closedByOwner = false
    /// Reattaches since the last output: a channel that keeps dropping at once is given up on.
    private var fruitlessReattaches = 0
    private var attachedAt = ContinuousClock.now
    static let maxFruitlessReattaches = 5
    let stallLimit: Duration
    public private(set) var exit: TerminalExit?
    private var scrollback = ReplayLog<[UInt8]>(maxChunks: Terminal.scrollbackChunks, maxBytes: Terminal.scrollbackLimit)
    private var clients: [Int: Client] = [:]
    private var nextClient = 0
    private var windowWaiters: [CheckedContinuation<Void, Never>] = []
    /// The largest number of bytes ever queued for one client and not yet written to its socket.
    public private(set) var peakQueued: UInt64 = 0

    public init(id: Int, workspaceID: String, backend: any TerminalBackend, stallLimit: Duration = Terminal.defaultStallLimit,
                reattach: (@Sendable () async throws -> any TerminalBackend)? = nil) {
        self.id = id
        self.workspaceID = workspaceID
        self.backend = backend
        self.reattach = reattach
        self.stallLimit = stallLimit
    }

    public var clientCount: Int { clients.count }
    /// Bytes produced since the terminal opened: the byte offset just past the scrollback.
    public var producedBytes: UInt64 { scrollback.produced }

    /// Reads the PTY until the process exits, reaching it again each time its channel goes away
    /// while it runs (see `reattach`). Run once, by the hub.
    public func pump() async {
        while true {
            do {
                while let event = try await backend.next() {
                    switch event {
                    case .output(let bytes):
                        // Output does not make a channel a good one: a guest that answers each
                        // re-bind with a byte and hangs up would otherwise make the host re-bind
                        // for ever. Only a channel that lived 2 s resets the count (below).
                        append(bytes)
                        await waitForWindow()
                    case .exited(let status):
                        finish(status)
                        return
                    case .failed(let message):
                        finish(TerminalExit(code: -1), error: message)
                        return
                    }
                }
            } catch {}
            guard exit == nil else { return }
            // A channel that lived a while (an idle shell across a pause) is not a failing one.
            if ContinuousClock.now - attachedAt > .seconds(2) { fruitlessReattaches = 0 }
            guard let reattach, fruitlessReattaches < Self.maxFruitlessReattaches, !Task.isCancelled else {
                finish(TerminalExit(code: -1), error: "the workspace agent went away")
                return
            }
            // The shell runs on in the workspace; its clients stay attached and see it again.
            fruitlessReattaches += 1
            suspended = true
            backend.close()
            do {
                let next = try await reattach()
                guard exit == nil else {
                    // Closed by its owner while suspended: hang the shell up as a close does.
                    if closedByOwner { await next.hangUp() }
                    next.close()
                    return
                }
                backend = next
                attachedAt = .now
                suspended = false
            } catch {
                let reason = (error as? HearthError)?.message ?? "the workspace is gone"
                finish(TerminalExit(code: -1), error: "the terminal could not be reached again: \(reason)")
                return
            }
        }
    }

    /// Attaches a client: it first receives the scrollback, then live output.
    public func attach(readOnly: Bool = false, onStall: @escaping @Sendable () -> Void = {}) -> (client: Int, output: AsyncStream<TerminalOutput>) {
        let (output, continuation) = AsyncStream<TerminalOutput>.makeStream()
        let client = nextClient
        nextClient &+= 1
        let replay = scrollback.kept.flatMap { $0 }
        if !replay.isEmpty { continuation.yield(.data(replay)) }
        if let exit {
            continuation.yield(.exited(exit, nil))
            continuation.finish()
        } else {
            let start = scrollback.produced - UInt64(replay.count)
            clients[client] = Client(window: AckWindow(at: start), progressed: .now, readOnly: readOnly, onStall: onStall, output: continuation)
            notePeak()
        }
        return (client, output)
    }

    public func detach(_ client: Int) {
        clients.removeValue(forKey: client)?.output.finish()
        releaseWindowWaiters()
    }

    /// The client's connection wrote `bytes` of its output to the socket.
    public func delivered(_ client: Int, bytes: Int) {
        guard var state = clients[client] else { return }
        state.window.deliver(UInt64(clamping: bytes), produced: scrollback.produced)
        state.progressed = .now
        clients[client] = state
    }

    /// The client says it has drawn `bytes` more. It cannot acknowledge what it was not sent,
    /// and no number it sends can overflow.
    public func acknowledge(_ client: Int, bytes: UInt64) {
        guard var state = clients[client] else { return }
        if state.window.acknowledge(bytes) { state.progressed = .now }
        clients[client] = state
        releaseWindowWaiters()
    }

    /// `offset + by`, saturating, and never past `limit`.
    public static func advance(_ offset: UInt64, by: UInt64, limit: UInt64) -> UInt64 {
        AckWindow.advance(offset, by: by, limit: limit)
    }

    public func input(_ bytes: [UInt8]) async throws {
        guard exit == nil else { return }
        try await backend.send(bytes)
    }

    public func resize(rows: Int, cols: Int) async throws {
        guard exit == nil, (1...1000).contains(rows), (1...1000).contains(cols) else { return }
        try await backend.resize(rows: UInt16(rows), cols: UInt16(cols))
    }

    /// Hangs up the shell (SIGHUP, as closing a terminal window does), then lets go of the stream.
    public func close() async {
        closedByOwner = true
        if exit == nil { await backend.hangUp() }
        backend.close()
        finish(exit ?? TerminalExit(code: 129, signal: 1))
    }

    /// Lets go of the backend without signalling the process (the server is shutting down).
    public func end(_ message: String) {
        backend.close()
        finish(exit ?? TerminalExit(code: -1), error: message)
    }

    /// Detaches the given clients with `reason` (the owner stopped sharing, say).
    public func drop(_ dropped: [Int], _ reason: TerminalOutput.DropReason) {
        for client in dropped {
            guard let state = clients.removeValue(forKey: client) else { continue }
            state.output.yield(.dropped(reason))
            state.output.finish()
            if reason == .tooSlow { state.onStall() }
        }
        releaseWindowWaiters()
    }

    /// The owner stopped sharing: everyone attached read-only is detached.
    public func dropReadOnlyClients() {
        drop(clients.filter { $0.value.readOnly }.map { $0.key }, .unshared)
    }

    private func append(_ bytes: [UInt8]) {
        scrollback.append(bytes)
        for client in clients.values { client.output.yield(.data(bytes)) }
        notePeak()
    }

    private func notePeak() {
        for client in clients.values { peakQueued = max(peakQueued, client.window.queued(produced: scrollback.produced)) }
    }

    private func finish(_ status: TerminalExit, error: String? = nil) {
        guard exit == nil else { return }
        exit = status
        for client in clients.values {
            client.output.yield(.exited(status, error))
            client.output.finish()
        }
        clients.removeAll()
        releaseWindowWaiters()
    }

    private func holdsWindow(_ client: Client) -> Bool { client.window.holds(Self.window, produced: scrollback.produced) }

    private var windowOpen: Bool { !clients.values.contains { holdsWindow($0) } }

    private func waitForWindow() async {
        guard !windowOpen, exit == nil else { return }
        // The watchdog drops clients that hold the window without progress for `stallLimit`; it
        // is a child task, so it ends with this wait.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [stallLimit] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: stallLimit / 4)
                    if Task.isCancelled { return }
                    await self.dropStalledClients()
                }
            }
            while !windowOpen, exit == nil {
                await withCheckedContinuation { windowWaiters.append($0) }
            }
            group.cancelAll()
        }
    }

    private func dropStalledClients() {
        let cutoff = ContinuousClock.now - stallLimit
        let stalled = clients.filter { holdsWindow($0.value) && $0.value.progressed <= cutoff }.map { $0.key }
        guard !stalled.isEmpty else { return }
        drop(stalled, .tooSlow)
    }

    private func releaseWindowWaiters() {
        guard windowOpen || exit != nil else { return }
        let waiters = windowWaiters
        windowWaiters.removeAll()
        waiters.forEach { $0.resume() }
    }
}

public enum TerminalOutput: Sendable {
    public enum DropReason: Sendable {
        /// The client held the window shut, reading or acknowledging nothing, for the stall limit.
        case tooSlow
        /// The owner stopped sharing the terminal.
        case unshared
    }

    case data([UInt8])
    case exited(TerminalExit, String?)
    /// The server detached this client; nothing more follows.
    case dropped(DropReason)
}
