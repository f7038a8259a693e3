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
/// budget refuses a flood), at most one guest-asked commit per workspace per `guestSyncSpacing`,
/// and a commit's own limits. A guest that asks often delays only its own answers.
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

    /// Called when `agent` becomes the workspace's channel. An agent older than version 6 has no
    /// `hearth-sync` to serve.
    func offerGuestSync(_ agent: AgentConnection, for id: String) {
        guard (agent.peer?.version ?? 0) >= WireVersion.guestSync else { return }
        guestSyncSignal.continuation.yield(GuestSyncChannel(workspace: id, agent: agent))
    }

    /// Serves one connection's requests until the connection ends, or the task is cancelled (the
    /// server stops). Every request is answered, with a failure when nothing can be committed.
    public func serveGuestSync(_ channel: GuestSyncChannel) async {
        guard agents[channel.workspace] === channel.agent, !channel.agent.isClosed,
              let stream = try? await channel.agent.open(.syncChannel) else { return }
        defer { stream.close() }
        while let event = try? await stream.next() {
            // Anything else the guest sends here is read and dropped (its credit comes back).
            guard case .control(.syncWanted(let ticket)) = event else { continue }
            let answer: Control
            do {
                let commit = try await guestSync(channel.workspace)
                answer = .synced(ticket: ticket, generation: commit.generation)
            } catch is CancellationError {
                return
            } catch {
                let message = (error as? HearthError)?.message ?? "the workspace's state could not be committed"
                answer = .syncFailed(ticket: ticket, WireError(.io, message))
            }
            // Not awaited: a guest that stops reading would hold this task, and a shutdown with it.
            // A guest that has left earlier answers unread loses the channel instead.
            guard stream.sendControlIfReading(answer) else { return }
        }
    }

    /// The commit behind one guest request. A lifecycle operation under way (a pause, a stop) is
    /// waited out, not refused: it ends this connection, and the agent asks again on the next.
    func guestSync(_ id: String) async throws -> WorkspaceCommit {
        if let last = guestSyncedAt[id] {
            try await Task.sleep(until: last + Self.guestSyncSpacing, clock: .continuous)
        }
        defer { guestSyncedAt[id] = .now }
        while busy[id] != nil, !Self.waitedOut.contains(busy[id] ?? "") {
            await withCheckedContinuation { busyWaiters[id, default: []].append($0) }
            try Task.checkCancellation()
        }
        guard try record(id).pooled == false else {
            throw HearthError(.conflict, "this workspace is not in use yet: there is nothing to sync")
        }
        return try await sync(id, trigger: .guest)
    }
}
