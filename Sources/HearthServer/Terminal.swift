import HearthControlPlane
import HearthCore

/// One PTY in a workspace that outlives the browser connections watching it: a dropped
/// connection or a page reload re-attaches and replays the scrollback, and the shell and its
/// running job are still there.
///
/// Output flows under acknowledgement: while any attached client has more than `window` bytes
/// sent but not acknowledged, the terminal stops reading from the agent, whose own credit then
/// stops the guest's PTY. So `yes` neither freezes a tab nor grows the server's memory. With no
/// client attached, output is read and only the last `scrollbackLimit` bytes are kept.
///
/// A client's numbers are hostile: an acknowledgement counts only bytes its connection has
/// already written to its socket (`delivered`), so acknowledging without reading cannot open the
/// window, and what is queued for a client never exceeds the window and one chunk. A client that
/// holds the window shut for `stallLimit` without progress is dropped, so a tab that stopped
/// reading (or a viewer of a shared terminal) cannot stall the terminal for everyone.
actor Terminal {
    struct Client {
        /// Offsets in the terminal's output (like `produced`): acknowledged ≤ delivered ≤ produced.
        var acknowledged: UInt64
        var delivered: UInt64
        /// When this client last had an acknowledgement or a write go through.
        var progressed: ContinuousClock.Instant
        /// Attached read-only: a viewer of a shared terminal.
        let readOnly: Bool
        /// Called when the client is dropped as too slow: its connection is not draining, so the
        /// `dropped` event queued behind its output would never be read. The connection closes.
        let onStall: @Sendable () -> Void
        let output: AsyncStream<TerminalOutput>.Continuation
    }

    static let scrollbackLimit = 256 * 1024
    static let window: UInt64 = 512 * 1024
    static let defaultStallLimit: Duration = .seconds(30)

    nonisolated let id: Int
    nonisolated let workspaceID: String
    let session: ExecSession
    let stallLimit: Duration
    private(set) var exit: ExecExit?
    private var scrollback: [UInt8] = []
    /// Bytes produced since the terminal opened: the offset just past `scrollback`.
    private var produced: UInt64 = 0
    private var clients: [Int: Client] = [:]
    private var nextClient = 0
    private var windowWaiters: [CheckedContinuation<Void, Never>] = []
    /// The largest number of bytes ever queued for one client and not yet written to its socket.
    private(set) var peakQueued: UInt64 = 0

    init(id: Int, workspaceID: String, session: ExecSession, stallLimit: Duration = Terminal.defaultStallLimit) {
        self.id = id
        self.workspaceID = workspaceID
        self.session = session
        self.stallLimit = stallLimit
    }

    var clientCount: Int { clients.count }
    var producedBytes: UInt64 { produced }

    /// Reads the PTY until the process exits or the agent goes away. Run once, by the hub.
    func pump() async {
        do {
            for try await event in session {
                switch event {
                case .stdout(let bytes), .stderr(let bytes):
                    append(bytes)
                    await waitForWindow()
                case .exited(let status):
                    finish(status)
                    return
                case .failed(let error):
                    finish(ExecExit(code: -1), error: error.message)
                    return
                case .started: continue
                }
            }
        } catch {}
        finish(ExecExit(code: -1), error: "the workspace agent went away")
    }

    /// Attaches a client: it first receives the scrollback, then live output.
    func attach(readOnly: Bool = false, onStall: @escaping @Sendable () -> Void = {}) -> (client: Int, output: AsyncStream<TerminalOutput>) {
        let (output, continuation) = AsyncStream<TerminalOutput>.makeStream()
        let client = nextClient
        nextClient &+= 1
        if !scrollback.isEmpty { continuation.yield(.data(scrollback)) }
        if let exit {
            continuation.yield(.exited(exit, nil))
            continuation.finish()
        } else {
            let start = produced - UInt64(scrollback.count)
            clients[client] = Client(acknowledged: start, delivered: start, progressed: .now, readOnly: readOnly, onStall: onStall, output: continuation)
            notePeak()
        }
        return (client, output)
    }

    func detach(_ client: Int) {
        clients.removeValue(forKey: client)?.output.finish()
        releaseWindowWaiters()
    }

    /// The client's connection wrote `bytes` of its output to the socket.
    func delivered(_ client: Int, bytes: Int) {
        guard var state = clients[client] else { return }
        state.delivered = Self.advance(state.delivered, by: UInt64(clamping: bytes), limit: produced)
        state.progressed = .now
        clients[client] = state
    }

    /// The client says it has drawn `bytes` more. It cannot acknowledge what it was not sent,
    /// and no number it sends can overflow.
    func acknowledge(_ client: Int, bytes: UInt64) {
        guard var state = clients[client] else { return }
        let before = state.acknowledged
        state.acknowledged = Self.advance(state.acknowledged, by: bytes, limit: state.delivered)
        if state.acknowledged != before { state.progressed = .now }
        clients[client] = state
        releaseWindowWaiters()
    }

    /// `offset + by`, saturating, and never past `limit`.
    static func advance(_ offset: UInt64, by: UInt64, limit: UInt64) -> UInt64 {
        let (sum, overflow) = offset.addingReportingOverflow(by)
        return overflow ? max(offset, limit) : max(offset, min(sum, limit))
    }

    func input(_ bytes: [UInt8]) async throws {
        guard exit == nil else { return }
        _ = try await session.send(bytes)
    }

    func resize(rows: Int, cols: Int) async throws {
        guard exit == nil, (1...1000).contains(rows), (1...1000).contains(cols) else { return }
        try await session.resize(TerminalSize(rows: UInt16(rows), cols: UInt16(cols)))
    }

    /// Hangs up the shell (SIGHUP, as closing a terminal window does), then lets go of the stream.
    func close() async {
        if exit == nil { try? await session.signal(1) }
        session.close()
        finish(exit ?? ExecExit(code: 129, signal: 1))
    }

    /// Detaches the given clients with `reason` (the owner stopped sharing, say).
    func drop(_ dropped: [Int], _ reason: TerminalOutput.DropReason) {
        for client in dropped {
            guard let state = clients.removeValue(forKey: client) else { continue }
            state.output.yield(.dropped(reason))
            state.output.finish()
            if reason == .tooSlow { state.onStall() }
        }
        releaseWindowWaiters()
    }

    /// The owner stopped sharing: everyone attached read-only is detached.
    func dropReadOnlyClients() {
        drop(clients.filter { $0.value.readOnly }.map { $0.key }, .unshared)
    }

    private func append(_ bytes: [UInt8]) {
        produced &+= UInt64(bytes.count)
        scrollback += bytes
        if scrollback.count > Self.scrollbackLimit { scrollback.removeFirst(scrollback.count - Self.scrollbackLimit) }
        for client in clients.values { client.output.yield(.data(bytes)) }
        notePeak()
    }

    private func notePeak() {
        for client in clients.values { peakQueued = max(peakQueued, produced - client.delivered) }
    }

    private func finish(_ status: ExecExit, error: String? = nil) {
        guard exit == nil else { return }
        exit = status
        for client in clients.values {
            client.output.yield(.exited(status, error))
            client.output.finish()
        }
        clients.removeAll()
        releaseWindowWaiters()
    }

    private func holdsWindow(_ client: Client) -> Bool { produced - client.acknowledged > Self.window }

    private var windowOpen: Bool { !clients.values.contains { holdsWindow($0) } }

    private func waitForWindow() async {
        guard !windowOpen, exit == nil else { return }
        // The watchdog drops clients that hold the window without progress for `stallLimit`.
        let watchdog = Task { [stallLimit] in
            while !Task.isCancelled {
                try? await Task.sleep(for: stallLimit / 4)
                if Task.isCancelled { return }
                await self.dropStalledClients()
            }
        }
        defer { watchdog.cancel() }
        while !windowOpen, exit == nil {
            await withCheckedContinuation { windowWaiters.append($0) }
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

enum TerminalOutput: Sendable {
    enum DropReason: Sendable {
        /// The client held the window shut, reading or acknowledging nothing, for the stall limit.
        case tooSlow
        /// The owner stopped sharing the terminal.
        case unshared
    }

    case data([UInt8])
    case exited(ExecExit, String?)
    /// The server detached this client; nothing more follows.
    case dropped(DropReason)
}
