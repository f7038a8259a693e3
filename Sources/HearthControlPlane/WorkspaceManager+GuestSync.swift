public import HearthCore
public import HearthRuntime
import HearthWire
import Logging

/// `hearth-sync` inside a workspace (issue 16): the agent asks for a durability barrier on a
/// channel the host keeps open per agent connection, and the host answers each request with the
/// generation that holds the workspace's state, exactly as `POST /v1/workspaces/{ws}/sync` does.
///
/// The guest chooses when to ask, so what it may cost is bounded here, not by its good will: one
/// request at a time per connection (the agent keeps one unanswered, and the stream's control
/// budget refuses a flood); per workspace, a pause after each guest-asked commit of ten times its
/// length, and at least `guestSyncSpacing`; across the server, at most `guestCommitConcurrency`
/// guest-asked commits at once; and a commit's own limits. A guest that asks often delays only its
/// own answers and those of guests that ask as often; one that does not read its answers loses
/// the channel.
extension WorkspaceManager {
    /// One agent connection whose `syncChannel` is still to be served.
    public struct GuestSyncChannel: Sendable {
        let workspace: String
        let agent: AgentConnection
    }

    /// The connections `GuestSyncService` serves, in the order they were adopted.
    public nonisolated var guestSyncChannels: AsyncStream<GuestSyncChannel> { guestSyncSignal.stream }

    /// Least time between two commits a workspace's guest asks for.
    static let guestSyncSpacing = Duration.seconds(1)
    /// Guest-asked commits running at once in the server.
    static let guestCommitConcurrency = 2

    /// Called when `agent` becomes the workspace's channel. An agent older than version 6 has no
    /// `hearth-sync` to serve.
    func offerGuestSync(_ agent: AgentConnection, for id: String) {
        guard (agent.peer?.version ?? 0) >= WireVersion.guestSync else { return }
        guestSyncSignal.continuation.yield(GuestSyncChannel(workspace: id, agent: agent))
    }

    /// Serves one connection's requests until the connection ends, or the task is cancelled (the
    /// server stops). Every request is answered, with a failure when nothing can be committed,
    /// unless the connection stopped being the workspace's first (a pause, a stop): the agent
    /// then asks again on the next one.
    public func serveGuestSync(_ channel: GuestSyncChannel) async {
        guard agents[channel.workspace] === channel.agent, !channel.agent.isClosed,
              let stream = try? await channel.agent.open(.syncChannel) else { return }
        defer { stream.close() }
        while let event = try? await stream.next() {
            // Anything else the guest sends here is read and dropped (its credit comes back).
            guard case .control(.syncWanted(let ticket)) = event else { continue }
            let answer: Control
            do {
                guard let commit = try await guestSync(channel) else { return }
                answer = .synced(ticket: ticket, generation: commit.generation)
            } catch is CancellationError {
                return
            } catch {
                let message = (error as? HearthError)?.message ?? "the workspace's state could not be committed"
                answer = .syncFailed(ticket: ticket, WireError(.io, message))
            }
            // Not awaited: a guest that stops reading would hold this task, and a shutdown with it.
            // A guest that leaves its earlier answers unread loses the channel instead.
            guard stream.sendControlUnlessBacklogged(answer) else { return }
        }
    }

    /// The commit behind one guest request, or nil when its connection is no longer the
    /// workspace's running one. A lifecycle operation under way (a pause, a stop) is waited out,
    /// not refused: it ends the connection, and the agent asks again on the next.
    func guestSync(_ channel: GuestSyncChannel) async throws -> WorkspaceCommit? {
        let id = channel.workspace
        if let next = guestSyncNotBefore[id] {
            try await Task.sleep(until: next, clock: .continuous)
        }
        while true {
            while let current = busy[id] {
                if Self.waitedOut.contains(current) { break }
                await withCheckedContinuation { busyWaiters[id, default: []].append($0) }
                try Task.checkCancellation()
            }
            guard agents[id] === channel.agent, let record = try? record(id), record.state == .running else { return nil }
            guard !record.pooled else {
                throw HearthError(.conflict, "this workspace is not in use yet: there is nothing to sync")
            }
            try await acquireGuestCommitSlot()
            defer { releaseGuestCommitSlot() }
            guard agents[id] === channel.agent else { return nil }
            let started = ContinuousClock.now
            do {
                let commit = try await sync(id, trigger: .guest)
                // Only for a workspace still there: a delete has forgotten it.
                if agents[id] != nil {
                    let took = ContinuousClock.now - started
                    guestSyncNotBefore[id] = .now + max(Self.guestSyncSpacing, took * 10)
                }
                return commit
            } catch let error as HearthError where error.code == .conflict && busy[id] != nil && !Self.waitedOut.contains(busy[id] ?? "") {
                // A lifecycle operation took the workspace between the wait and the commit.
                continue
            }
        }
    }

    private func acquireGuestCommitSlot() async throws {
        while guestCommitsRunning >= Self.guestCommitConcurrency {
            await withCheckedContinuation { guestCommitWaiters.append($0) }
            // A waiter that was cancelled (the server stops) passes its turn on and commits nothing.
            if Task.isCancelled {
                releaseGuestCommitWaiter()
                throw CancellationError()
            }
        }
        guestCommitsRunning += 1
    }

    private func releaseGuestCommitSlot() {
        guestCommitsRunning -= 1
        releaseGuestCommitWaiter()
    }

    private func releaseGuestCommitWaiter() {
        if !guestCommitWaiters.isEmpty { guestCommitWaiters.removeFirst().resume() }
    }
}
