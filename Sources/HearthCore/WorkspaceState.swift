/// Where a workspace is in its life. Persisted as its raw value; never rename a case.
public enum WorkspaceState: String, Sendable, Codable, CaseIterable {
    case creating
    case running
    case stopping
    case stopped
    case pausing
    case paused
    case resuming
    case starting
    case deleting
    case deleted
    case failed
}

/// What may happen to a workspace.
public enum WorkspaceEvent: String, Sendable, Codable {
    case create, created
    case start, started
    case stop, stopped
    case pause, paused
    case resume, resumed
    case delete, deleted
    case fail
    /// The server restarted and found the sandbox still running, or gone.
    case adoptRunning, adoptLost
}

/// The workspace lifecycle: a pure transition table the control plane consults before and after
/// every runtime call. Transitional states (`pausing`, …) are what a crash can leave behind; the
/// reconciler resolves them at start-up with `adoptRunning` or `adoptLost`.
public struct WorkspaceStateMachine: Sendable {
    public init() {}

    public func next(from state: WorkspaceState, on event: WorkspaceEvent) throws(HearthError) -> WorkspaceState {
        switch (state, event) {
        case (.creating, .created), (.starting, .started), (.resuming, .resumed): return .running
        case (.stopped, .start), (.failed, .start): return .starting
        case (.running, .stop), (.paused, .stop), (.starting, .stop): return .stopping
        case (.stopping, .stopped): return .stopped
        case (.running, .pause): return .pausing
        case (.pausing, .paused): return .paused
        case (.paused, .resume): return .resuming
        case (.deleting, .deleted), (.failed, .deleted): return .deleted
        // The sandbox exiting while it is being deleted is the deletion, not a failure.
        case (.deleting, .fail): return .deleting
        case (let s, .delete) where s != .deleted && s != .deleting: return .deleting
        case (let s, .fail) where s != .deleted: return .failed
        case (.running, .adoptRunning), (.starting, .adoptRunning), (.resuming, .adoptRunning), (.creating, .adoptRunning),
             (.pausing, .adoptRunning), (.stopping, .adoptRunning):
            return .running
        case (.paused, .adoptLost), (.pausing, .adoptLost): return .paused
        case (.deleting, .adoptLost): return .deleted
        case (let s, .adoptLost) where s != .deleted: return .stopped
        default:
            throw HearthError(.conflict, "cannot \(event.rawValue) a workspace that is \(state.rawValue)")
        }
    }

    /// States a client may act on again without waiting.
    public static let settled: Set<WorkspaceState> = [.running, .stopped, .paused, .failed, .deleted]
}
