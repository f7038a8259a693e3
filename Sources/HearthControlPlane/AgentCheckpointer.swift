import Foundation
import HearthAgentCore
import HearthCore
import Logging
import Synchronization

/// Records a session's steps as its turn runs (issue 18's rewind): before the first turn, after
/// each step's tool results, and after a turn that completed. A step whose tools may have changed
/// files commits the workspace (trigger `agent`) and links that generation; a step that only read
/// reuses the previous step's. A step is recorded even when no generation could be made: the
/// conversation can still be forked from it, and a rewind to it says why the files cannot follow.
struct AgentCheckpointer: Sendable {
    let workspaces: WorkspaceManager
    let events: AgentEventHub
    let logger: Logger

    /// Tools that may change the workspace's files. `bash` may; the readers never do.
    static let changingTools: Set<String> = ["bash", "write_file", "edit_file"]

    /// What one turn has done since its last step.
    final class Turn: Sendable {
        let changed = Atomic<Bool>(false)
    }

    /// Step 0, before the session's first message is stored: "before the agent did anything".
    /// It is committed without waiting for the workspace's spacing: it runs once per session, inside
    /// the first send's request.
    func recordStart(_ session: AgentSessionRecord) async {
        await record(session, kind: .start, changed: true)
    }

    /// After a loop event: a step boundary records a step.
    func after(_ event: AgentLoopEvent, session: AgentSessionRecord, turn: Turn) async {
        switch event {
        case .toolCall(let call):
            if Self.changingTools.contains(call.name) { turn.changed.store(true, ordering: .relaxed) }
        case .message(let message) where message.role == .user && message.content.contains(where: { if case .toolResult = $0 { true } else { false } }):
            // Every call of the step has its result: history and files agree here.
            await record(session, kind: .tool, changed: turn.changed.exchange(false, ordering: .relaxed))
        case .finished(.completed, _):
            await record(session, kind: .turn, changed: turn.changed.exchange(false, ordering: .relaxed))
        default:
            break
        }
    }

    func record(_ session: AgentSessionRecord, kind: AgentCheckpoint.Kind, changed: Bool) async {
        let store = events.store
        do {
            let previous = try store.latestCheckpoint(session.id)
            var generation: Int64?
            if changed || previous?.generation == nil {
                generation = await commit(session, waitForSpacing: kind != .start)
            } else {
                generation = previous?.generation
            }
            let step = previous.map { $0.step &+ 1 } ?? 0
            var fields: [String: AgentJSON] = ["step": .int(step), "kind": .string(kind.rawValue)]
            fields["generation"] = generation.map { .int(Int($0)) } ?? .null
            // Only one turn of a session runs, and a rewind refuses while it does (a fork only reads
            // steps): nothing else writes this session's steps between the read and the insert.
            let event = try events.append(session.id, .checkpoint, fields)
            try store.insert(AgentCheckpoint(sessionId: session.id, step: step, kind: kind, seq: event.seq,
                                             historyCount: try store.historyCount(session.id), generation: generation, at: event.at))
        } catch {
            logger.warning("agent step not recorded", metadata: ["agent.session": "\(session.id)", "error": "\(error)"])
        }
    }

    /// The generation that holds the workspace's files now; nil without a store, for a runtime
    /// that keeps no layers, or on failure.
    private func commit(_ session: AgentSessionRecord, waitForSpacing: Bool) async -> Int64? {
        do {
            guard let commit = try await workspaces.agentStepSync(session.workspaceId, waitForSpacing: waitForSpacing) else { return nil }
            return Int64(exactly: commit.generation)
        } catch is CancellationError {
            return nil
        } catch {
            logger.notice("agent step has no generation", metadata: ["agent.session": "\(session.id)", "workspace.id": "\(session.workspaceId)",
                                                                     "error": "\(error)"])
            return nil
        }
    }
}
