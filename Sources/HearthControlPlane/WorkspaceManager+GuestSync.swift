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
/// length, and at least `guestSyncSpacing`, failed or not; across the server, at most
/// `guestCommitConcurrency` guest-asked commits at once and one per tenant; and a commit's own
/// limits. A tenant whose guests ask often delays its own answers, and others' by at most the one
/// commit its slot holds; a guest that does not read its answers loses the channel.
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
    /// not refused: it ends the connection, and the agent asks again on the next. Every attempt,
    /// failed or not, spaces the workspace's next one by ten times its length and at least
    /// `guestSyncSpacing`, so a guest that makes its commits fail gains nothing by asking again.
    func guestSync(_ channel: GuestSyncChannel) async throws -> WorkspaceCommit? {
        let id = channel.workspace
        return try await spacedGuestCommit(id) {
            while true {
                // Every marker is waited out before a slot is taken, so no slot waits on a claim or
                // another commit.
                try await waitOut(id) { _ in true }
                guard agents[id] === channel.agent else { return nil }
                let record = try record(id)
                guard record.state == .running else { return nil }
                guard !record.pooled else {
                    throw HearthError(.conflict, "this workspace is not in use yet: there is nothing to sync")
                }
                try await acquireGuestCommitSlot(tenant: record.tenantId)
                defer { releaseGuestCommitSlot(tenant: record.tenantId) }
                guard agents[id] === channel.agent else { return nil }
                do {
                    return try await sync(id, trigger: .guest)
                } catch let error as HearthError where error.code == .conflict && busy[id] != nil && !Self.waitedOut.contains(busy[id] ?? "") {
                    // A lifecycle operation took the workspace between the wait and the commit.
                    continue
                }
            }
        }
    }

    /// Runs one guest- or agent-asked commit within the workspace's spacing: after waiting out the
    /// spacing the last one set (at most `cap`), and setting the next, ten times this one's length
    /// and at least `guestSyncSpacing`, failed or not.
    func spacedGuestCommit<T>(_ id: String, waitAtMost cap: Duration? = nil, _ body: () async throws -> T) async throws -> T {
        if let next = guestSyncNotBefore[id] {
            try await Task.sleep(until: cap.map { min(next, .now + $0) } ?? next, clock: .continuous)
        }
        let started = ContinuousClock.now
        defer {
            // Only for a workspace still there: a delete has forgotten it.
            if agents[id] != nil {
                guestSyncNotBefore[id] = .now + max(Self.guestSyncSpacing, (ContinuousClock.now - started) * 10)
            }
        }
        return try await body()
    }

    /// A slot among `guestCommitConcurrency`, at most one per tenant: one tenant's guests cannot
    /// hold every slot, so another tenant's wait behind them is bounded by one commit. Slots go to
    /// waiters in order, skipping those whose tenant holds one, and are handed over directly, so
    /// no newcomer jumps the queue.
    func acquireGuestCommitSlot(tenant: String) async throws {
        // A free slot is never left while a waiter could take it (a release hands it on), so a
        // newcomer that can take one passes no one.
        if guestCommitsRunning < Self.guestCommitConcurrency, guestCommitTenants[tenant, default: 0] == 0 {
            take(tenant)
            return
        }
        await withCheckedContinuation { guestCommitWaiters.append((tenant, $0)) }
        // Resumed holding the slot. One cancelled meanwhile (the server stops) passes it on.
        if Task.isCancelled {
            releaseGuestCommitSlot(tenant: tenant)
            throw CancellationError()
        }
    }

    private func take(_ tenant: String) {
        guestCommitsRunning += 1
        guestCommitTenants[tenant, default: 0] += 1
    }

    func releaseGuestCommitSlot(tenant: String) {
        guestCommitsRunning -= 1
        guestCommitTenants[tenant, default: 1] -= 1
        if guestCommitTenants[tenant] == 0 { guestCommitTenants[tenant] = nil }
        // The first waiter whose tenant holds no slot now gets this one.
        guard guestCommitsRunning < Self.guestCommitConcurrency,
              let next = guestCommitWaiters.firstIndex(where: { guestCommitTenants[$0.tenant, default: 0] == 0 }) else { return }
        let (nextTenant, continuation) = guestCommitWaiters.remove(at: next)
        take(nextTenant)
        continuation.resume()
    }
}
