import HearthCore
import Logging

/// Who asks the hub for a terminal. A terminal belongs to the principal that opened it: a browser
/// session stands for its user (so a reload, or signing in again, finds the user's terminals),
/// a token only for itself (an agent's token does not see its user's shells). The server makes
/// one from its principal.
public struct TerminalCaller: Sendable, Equatable {
    public let key: String
    public let canWrite: Bool

    public init(key: String, canWrite: Bool) {
        self.key = key
        self.canWrite = canWrite
    }
}

/// What a caller may do with a terminal it can see.
public enum TerminalAccess: String, Sendable {
    /// Its owner: input, resize, share and close.
    case owner
    /// Shared with the workspace read-only: output only.
    case readOnly
}

/// The terminals of every workspace, by workspace id and terminal number, and who may use them.
///
/// The policy lives here, not in the connection: a caller sees its own terminals and those their
/// owner shared; a shared terminal is read-only to everyone but its owner; anyone else's unshared
/// terminal does not exist for the caller ("not found", like a number never used).
public actor TerminalHub {
    struct Entry {
        let terminal: Terminal
        let owner: String
        var shared = false
    }

    public static let maxPerWorkspace = 16
    let stallLimit: Duration
    let runner: SessionRunner
    private var terminals: [String: [Int: Entry]] = [:]
    private var nextID: [String: Int] = [:]

    init(stallLimit: Duration, runner: SessionRunner) {
        self.stallLimit = stallLimit
        self.runner = runner
    }

    /// Checks that `owner` may open another terminal in the workspace, before a shell is started.
    public func mayOpen(workspaceID: String, owner: TerminalCaller) throws {
        guard owner.canWrite else { throw HearthError(.forbidden, "a viewer cannot open a terminal") }
        guard terminals[workspaceID, default: [:]].count < Self.maxPerWorkspace else {
            throw HearthError(.conflict, "a workspace has at most \(Self.maxPerWorkspace) terminals")
        }
    }

    /// Registers a terminal on `backend` (a shell already started) and starts reading it as work
    /// of the session hub. On refusal the backend is closed.
    public func open(workspaceID: String, backend: any TerminalBackend, owner: TerminalCaller,
                     reattach: (@Sendable () async throws -> any TerminalBackend)? = nil) throws -> Terminal {
        do {
            try mayOpen(workspaceID: workspaceID, owner: owner)
            let id = nextID[workspaceID, default: 1]
            let terminal = Terminal(id: id, workspaceID: workspaceID, backend: backend, stallLimit: stallLimit, reattach: reattach)
            try runner.submit { await terminal.pump() }
            nextID[workspaceID] = id &+ 1
            terminals[workspaceID, default: [:]][id] = Entry(terminal: terminal, owner: owner.key)
            runner.logger.info("terminal opened", metadata: ["workspace.id": .string(workspaceID), "terminal.id": .stringConvertible(id)])
            return terminal
        } catch {
            backend.close()
            throw error
        }
    }

    /// The terminal and what `caller` may do with it, or nil if the caller may not see it.
    public func terminal(_ id: Int, workspaceID: String, for caller: TerminalCaller) -> (Terminal, TerminalAccess)? {
        guard let entry = terminals[workspaceID]?[id], let access = Self.access(entry, caller) else { return nil }
        return (entry.terminal, access)
    }

    /// The terminals `caller` can see, in order, with its access and whether each is shared.
    public func list(workspaceID: String, for caller: TerminalCaller) -> [(terminal: Terminal, access: TerminalAccess, shared: Bool)] {
        (terminals[workspaceID] ?? [:]).sorted { $0.key < $1.key }.compactMap { element in
            Self.access(element.value, caller).map { (terminal: element.value.terminal, access: $0, shared: element.value.shared) }
        }
    }

    /// Shares the terminal read-only with the workspace, or stops sharing it. Only its owner may.
    public func share(_ id: Int, workspaceID: String, shared: Bool, by caller: TerminalCaller) throws -> Terminal {
        guard var entry = terminals[workspaceID]?[id], let access = Self.access(entry, caller) else {
            throw HearthError(.notFound, "no terminal \(id)")
        }
        guard access == .owner else { throw HearthError(.forbidden, "only the terminal's owner can share it") }
        entry.shared = shared
        terminals[workspaceID]?[id] = entry
        return entry.terminal
    }

    /// Removes the terminal for closing. Only its owner may.
    public func remove(_ id: Int, workspaceID: String, by caller: TerminalCaller) throws -> Terminal {
        guard let entry = terminals[workspaceID]?[id], let access = Self.access(entry, caller) else {
            throw HearthError(.notFound, "no terminal \(id)")
        }
        guard access == .owner else { throw HearthError(.forbidden, "only the terminal's owner can close it") }
        terminals[workspaceID]?.removeValue(forKey: id)
        return entry.terminal
    }

    /// Every terminal of the workspace, whoever owns it: for diagnostics and tests, never a client.
    public func all(workspaceID: String) -> [Terminal] {
        (terminals[workspaceID] ?? [:]).sorted { $0.key < $1.key }.map { $0.value.terminal }
    }

    /// Forgets terminals whose process has exited and been reported.
    public func prune(workspaceID: String) async {
        for (id, entry) in terminals[workspaceID] ?? [:] where await entry.terminal.exit != nil {
            terminals[workspaceID]?.removeValue(forKey: id)
        }
    }

    /// Ends every terminal without signalling its process (the hub is stopping); their pumps
    /// return, and the hub's `run()` with them.
    func endAll(_ message: String) async {
        let all = terminals.values.flatMap { $0.values.map(\.terminal) }
        terminals.removeAll()
        for terminal in all { await terminal.end(message) }
        if !all.isEmpty { runner.logger.info("terminals ended", metadata: ["terminal.count": .stringConvertible(all.count)]) }
    }

    private static func access(_ entry: Entry, _ caller: TerminalCaller) -> TerminalAccess? {
        // A principal demoted to viewer keeps seeing its terminals only as anyone would.
        if entry.owner == caller.key, caller.canWrite { return .owner }
        return entry.shared ? .readOnly : nil
    }
}
