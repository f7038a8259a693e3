@testable import HearthControlPlane
import HearthCore
import Testing

/// What a workspace page's terminal socket is told when its workspace changes state.
@Suite(.timeLimit(.minutes(1))) struct WorkspaceChangesTests {
    @Test func aWatcherSeesItsWorkspacesStatesOnlyAndInOrder() async {
        let changes = WorkspaceChanges()
        let watched = changes.watch("ws_a")
        changes.publish("ws_b", .paused)
        for state: WorkspaceState in [.pausing, .paused, .resuming, .running] { changes.publish("ws_a", state) }
        var seen: [WorkspaceState] = []
        for await change in watched {
            #expect(change.workspaceID == "ws_a")
            seen.append(change.state)
            if seen.count == 4 { break }
        }
        #expect(seen == [.pausing, .paused, .resuming, .running])
    }

    @Test func aWatcherThatDoesNotReadHoldsOnlyTheNewestStates() async {
        let changes = WorkspaceChanges()
        let watched = changes.watch("ws_a")
        for _ in 0..<10_000 { changes.publish("ws_a", .running) }
        changes.publish("ws_a", .paused)
        var count = 0
        var last: WorkspaceState?
        var iterator = watched.makeAsyncIterator()
        while count < WorkspaceChanges.bufferedPerWatcher, let change = await iterator.next() {
            count += 1
            last = change.state
        }
        #expect(count == WorkspaceChanges.bufferedPerWatcher)
        #expect(last == .paused, "the newest state is never dropped")
    }

    @Test func aDroppedWatcherIsForgotten() async {
        let changes = WorkspaceChanges()
        do {
            let watched = changes.watch("ws_a")
            #expect(changes.watcherCount == 1)
            _ = watched
        }
        #expect(changes.watcherCount == 0)
        let reader = Task { for await _ in changes.watch("ws_b") {} }
        while changes.watcherCount == 0 { await Task.yield() }
        reader.cancel()
        await reader.value
        #expect(changes.watcherCount == 0)
    }
}
