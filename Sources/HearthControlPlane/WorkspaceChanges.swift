public import HearthCore
import Synchronization

/// Every state a workspace enters, told to whoever watches it (a workspace page's terminal socket,
/// so a page learns that the CLI paused its workspace and when it is back).
///
/// A watcher's queue keeps only the newest few states: a watcher that does not read costs a
/// bounded amount whatever the workspace does.
public final class WorkspaceChanges: Sendable {
    public struct Change: Sendable, Equatable {
        public var workspaceID: String
        public var state: WorkspaceState
    }

    static let bufferedPerWatcher = 8
    private struct Watcher {
        let workspaceID: String
        let continuation: AsyncStream<Change>.Continuation
    }

    private let watchers = Mutex<[Int: Watcher]>([:])
    private let nextID = Mutex(0)

    public init() {}

    /// The states `workspaceID` enters from now on, until the stream is dropped or its reader cancelled.
    public func watch(_ workspaceID: String) -> AsyncStream<Change> {
        let (stream, continuation) = AsyncStream<Change>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferedPerWatcher))
        let id = nextID.withLock { id in
            defer { id &+= 1 }
            return id
        }
        watchers.withLock { $0[id] = Watcher(workspaceID: workspaceID, continuation: continuation) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.watchers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    public var watcherCount: Int { watchers.withLock { $0.count } }

    func publish(_ workspaceID: String, _ state: WorkspaceState) {
        let matching = watchers.withLock { $0.values.filter { $0.workspaceID == workspaceID }.map(\.continuation) }
        for continuation in matching { continuation.yield(Change(workspaceID: workspaceID, state: state)) }
    }
}
