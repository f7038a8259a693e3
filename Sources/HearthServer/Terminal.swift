import HearthCore
import HearthRuntime
import HearthWire

/// One PTY in a workspace that outlives the browser connections watching it: a dropped
/// connection or a page reload re-attaches and replays the scrollback, and the shell and its
/// running job are still there.
///
/// Output flows under acknowledgement: while any attached client has more than `window` bytes
/// sent but not acknowledged, the terminal stops reading from the agent, whose own credit then
/// stops the guest's PTY. So `yes` neither freezes a tab nor grows the server's memory. With no
/// client attached, output is read and only the last `scrollbackLimit` bytes are kept.
actor Terminal {
    struct Client {
        var acknowledged: UInt64
        let output: AsyncStream<TerminalOutput>.Continuation
    }

    static let scrollbackLimit = 256 * 1024
    static let window: UInt64 = 512 * 1024

    let id: Int
    let workspaceID: String
    let stream: HostStream
    private(set) var exit: ExitStatus?
    private var scrollback: [UInt8] = []
    /// Bytes produced since the terminal opened: the offset just past `scrollback`.
    private var produced: UInt64 = 0
    private var clients: [Int: Client] = [:]
    private var nextClient = 0
    private var windowWaiters: [CheckedContinuation<Void, Never>] = []

    init(id: Int, workspaceID: String, stream: HostStream) {
        self.id = id
        self.workspaceID = workspaceID
        self.stream = stream
    }

    /// Reads the PTY until the process exits or the agent goes away. Run once, by the hub.
    func pump() async {
        do {
            for try await event in stream {
                switch event {
                case .data(_, let bytes):
                    append(bytes)
                    await waitForWindow()
                case .control(.exited(let status)):
                    finish(status)
                    return
                case .control(.failed(let error)):
                    finish(ExitStatus(code: -1), error: error.message)
                    return
                default: continue
                }
            }
        } catch {}
        finish(ExitStatus(code: -1), error: "the workspace agent went away")
    }

    /// Attaches a client: it first receives the scrollback, then live output.
    func attach() -> (client: Int, output: AsyncStream<TerminalOutput>) {
        let (output, continuation) = AsyncStream<TerminalOutput>.makeStream()
        let client = nextClient
        nextClient += 1
        if !scrollback.isEmpty { continuation.yield(.data(scrollback)) }
        if let exit {
            continuation.yield(.exited(exit, nil))
            continuation.finish()
        } else {
            clients[client] = Client(acknowledged: produced - UInt64(scrollback.count), output: continuation)
        }
        return (client, output)
    }

    func detach(_ client: Int) {
        clients.removeValue(forKey: client)?.output.finish()
        releaseWindowWaiters()
    }

    func acknowledge(_ client: Int, bytes: UInt64) {
        guard var state = clients[client] else { return }
        state.acknowledged = min(produced, state.acknowledged + bytes)
        clients[client] = state
        releaseWindowWaiters()
    }

    func input(_ bytes: [UInt8]) async throws {
        guard exit == nil else { return }
        _ = try await stream.send(.bytes, bytes)
    }

    func resize(rows: Int, cols: Int) async throws {
        guard exit == nil, (1...1000).contains(rows), (1...1000).contains(cols) else { return }
        try await stream.sendControl(.resize(PTYSize(rows: UInt16(rows), cols: UInt16(cols))))
    }

    /// Hangs up the shell (SIGHUP, as closing a terminal window does), then lets go of the stream.
    func close() async {
        if exit == nil { try? await stream.sendControl(.signal(1)) }
        stream.close()
        finish(exit ?? ExitStatus(code: 129, signal: 1))
    }

    private func append(_ bytes: [UInt8]) {
        produced += UInt64(bytes.count)
        scrollback += bytes
        if scrollback.count > Self.scrollbackLimit { scrollback.removeFirst(scrollback.count - Self.scrollbackLimit) }
        for client in clients.values { client.output.yield(.data(bytes)) }
    }

    private func finish(_ status: ExitStatus, error: String? = nil) {
        guard exit == nil else { return }
        exit = status
        for client in clients.values {
            client.output.yield(.exited(status, error))
            client.output.finish()
        }
        clients.removeAll()
        releaseWindowWaiters()
    }

    private var windowOpen: Bool {
        clients.values.allSatisfy { produced - $0.acknowledged <= Self.window }
    }

    private func waitForWindow() async {
        while !windowOpen, exit == nil {
            await withCheckedContinuation { windowWaiters.append($0) }
        }
    }

    private func releaseWindowWaiters() {
        guard windowOpen || exit != nil else { return }
        let waiters = windowWaiters
        windowWaiters.removeAll()
        waiters.forEach { $0.resume() }
    }
}

enum TerminalOutput: Sendable {
    case data([UInt8])
    case exited(ExitStatus, String?)
}

/// The terminals of every workspace, by workspace id and terminal number.
actor TerminalHub {
    static let maxPerWorkspace = 16
    private var terminals: [String: [Int: Terminal]] = [:]
    private var nextID: [String: Int] = [:]

    func open(workspaceID: String, stream: HostStream) throws -> Terminal {
        var current = terminals[workspaceID, default: [:]]
        guard current.count < Self.maxPerWorkspace else {
            stream.close()
            throw HearthError(.conflict, "a workspace has at most \(Self.maxPerWorkspace) terminals")
        }
        let id = nextID[workspaceID, default: 1]
        nextID[workspaceID] = id + 1
        let terminal = Terminal(id: id, workspaceID: workspaceID, stream: stream)
        current[id] = terminal
        terminals[workspaceID] = current
        Task {
            await terminal.pump()
        }
        return terminal
    }

    func terminal(_ id: Int, workspaceID: String) -> Terminal? { terminals[workspaceID]?[id] }

    func list(workspaceID: String) -> [Terminal] {
        (terminals[workspaceID] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
    }

    func remove(_ id: Int, workspaceID: String) -> Terminal? {
        terminals[workspaceID]?.removeValue(forKey: id)
    }

    /// Forgets terminals whose process has exited and been reported.
    func prune(workspaceID: String) async {
        for terminal in list(workspaceID: workspaceID) where await terminal.exit != nil {
            terminals[workspaceID]?.removeValue(forKey: terminal.id)
        }
    }
}
