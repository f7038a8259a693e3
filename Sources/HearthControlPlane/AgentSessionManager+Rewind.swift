import Foundation
import HearthCore
import Logging

/// Rewind and fork of an agent session to one of its steps (issue 18): the conversation and the
/// workspace's files go back together.
extension AgentSessionManager {
    /// The most a fork copies (events and history up to its step): a fork is one write of the
    /// sessions database, which every session's events wait for.
    public static let maxForkBytes: Int64 = 64 << 20
    /// Steps listed in one answer.
    public static let maxListedSteps = 1000

    /// The session's steps after `after` (nil: from the first), at most `maxListedSteps`.
    public func checkpoints(_ id: String, tenantId: String, after: Int? = nil) throws -> [AgentCheckpoint] {
        _ = try get(id, tenantId: tenantId)
        return try store.checkpoints(id, after: after, limit: Self.maxListedSteps)
    }

    func checkNotRearranging(_ id: String) throws {
        guard !rearranging.contains(id) else { throw Self.rearrangingConflict }
    }

    /// Marks the session as being rearranged; refused when something else already does.
    func beginRearranging(_ id: String) throws {
        guard rearranging.insert(id).inserted else { throw Self.rearrangingConflict }
    }

    /// The generation holding a step's files; a step without one can be neither rewound to nor forked.
    static func files(of checkpoint: AgentCheckpoint) throws -> UInt64 {
        guard let stored = checkpoint.generation, let generation = UInt64(exactly: stored) else {
            throw HearthError(.conflict, "step \(checkpoint.step) has no generation of the workspace's files, so they cannot be put back or forked")
        }
        return generation
    }

    static let rearrangingConflict = HearthError(.conflict, "the session is being rewound or forked, or its first step recorded; try again in a moment")

    /// Another live session working in the same workspace (a colleague's on a shared one): a
    /// rewind would change the files under its turn.
    private func checkNoOtherSessionWorks(in session: AgentSessionRecord) throws {
        let others = try store.sessions(tenantId: session.tenantId).filter {
            $0.workspaceId == session.workspaceId && $0.id != session.id && $0.state != .ended
        }
        if let busy = others.first(where: { $0.state == .busy || runner.isRunning($0.id) || rearranging.contains($0.id) }) {
            throw HearthError(.conflict, "another agent session (\(busy.id)) is working in this workspace; wait for it or cancel it")
        }
    }

    /// Puts the session back to step `step`: the workspace rolled back to the step's generation
    /// (stopped and started again if it was running), the provider-facing history cut back to the
    /// step, and the later steps forgotten. The event log keeps everything and gets a `rewind`
    /// event naming the step's `checkpoint` event, after which the conversation goes on.
    public func rewind(_ id: String, tenantId: String, step: Int) async throws -> AgentCheckpoint {
        let session = try get(id, tenantId: tenantId)
        guard session.state != .ended else { throw HearthError(.conflict, "the session has ended; fork it to go on from a step") }
        guard session.state == .idle, !runner.isRunning(id) else { throw HearthError(.conflict, "a turn is running; cancel it first") }
        guard let checkpoint = try store.checkpoint(id, step: step) else { throw HearthError(.notFound, "no step \(step) in this session") }
        let generation = try Self.files(of: checkpoint)
        try checkNoOtherSessionWorks(in: session)
        // Taken before the first suspension, so no send, rewind, fork or delete of this session
        // (nor the idle sweep) runs between the checks above and the end.
        guard rewindingWorkspaces.insert(session.workspaceId).inserted else {
            throw HearthError(.conflict, "another agent session is rewinding this workspace")
        }
        defer { rewindingWorkspaces.remove(session.workspaceId) }
        try beginRearranging(id)
        defer { rearranging.remove(id) }
        try await workspaces.checkRollbackPossible(session.workspaceId, to: generation)
        try checkNoOtherSessionWorks(in: session)
        try events.append(id, .status, ["status": .string("rewinding"), "step": .int(step)])
        let rewound: WorkspaceManager.Rewound
        do {
            rewound = try await workspaces.rewind(session.workspaceId, to: generation)
        } catch {
            let hearth = (error as? HearthError) ?? HearthError(.internal, "the workspace was not rewound", detail: "\(error)")
            _ = try? events.append(id, .errorEvent, ["code": .string(hearth.code.rawValue), "message": .string("rewind failed: " + hearth.message)])
            throw error
        }
        // The files are the step's now: the conversation follows them, whatever else failed.
        try store.rewind(id, to: checkpoint)
        try store.update(id) { $0.lastActivityAt = clock.now() }
        try events.append(id, .rewind, ["step": .int(step), "seq": .int(Int(checkpoint.seq)), "generation": .int(Int(clamping: generation))])
        logger.info("agent session rewound", metadata: ["agent.session": "\(id)", "agent.step": "\(step)", "workspace.id": "\(session.workspaceId)",
                                                        "rollback.generation": "\(generation)", "rollback.committed": "\(rewound.commit != nil)"])
        if let failure = rewound.startFailure {
            let message = "the session was rewound to step \(step), but its workspace did not start again: \(failure.message)"
            _ = try? events.append(id, .errorEvent, ["code": .string(failure.code.rawValue), "message": .string(message)])
            throw HearthError(failure.code, message, detail: failure.detail)
        }
        return checkpoint
    }

    /// A new session, in the caller's name, whose conversation is this one's as far as step `step`
    /// (nil: the latest) and whose workspace is a fork of this one's at the step's generation. The
    /// source session and its workspace are not changed.
    public func fork(_ id: String, tenantId: String, userId: String, step: Int?) async throws -> AgentSessionRecord {
        let source = try get(id, tenantId: tenantId)
        guard source.contentPurgedAt == nil else { throw HearthError(.conflict, "the session's content was purged under the tenant's retention") }
        // An ended session of a tenant that keeps only metadata is due for its purge: a fork
        // would keep what the tenant asked not to keep.
        if source.state == .ended, try store.retention(tenantId: tenantId) == .metadata {
            throw HearthError(.conflict, "the session has ended and this tenant keeps only metadata of ended sessions")
        }
        let found = try step.map { try store.checkpoint(id, step: $0) } ?? store.latestCheckpoint(id)
        guard let checkpoint = found else {
            throw HearthError(.notFound, step.map { "no step \($0) in this session" } ?? "the session has no step to fork from yet")
        }
        let generation = try Self.files(of: checkpoint)
        let bytes = try store.conversationBytes(id, through: checkpoint)
        guard bytes <= Self.maxForkBytes else {
            throw HearthError(.quotaExceeded, "the conversation up to step \(checkpoint.step) is \(bytes >> 20) MiB; a fork copies at most \(Self.maxForkBytes >> 20) MiB")
        }
        try admit(tenantId: tenantId)
        try beginRearranging(id)
        defer { rearranging.remove(id) }
        guard case .workspace(let workspace) = try await workspaces.perform(.fork(source.workspaceId, generation: generation, name: nil)) else {
            throw HearthError(.internal, "the workspace was not forked")
        }
        do {
            // The fork's first generation (trigger `fork`) holds the step's files; when that commit
            // failed, the step has no generation in the new session (its next commit carries it).
            let head = try await workspaces.generations(workspace.id).first { $0.trigger == .fork }.flatMap { Int64(exactly: $0.number) }
            // Again, with no suspension before the insert: other sessions were made meanwhile.
            try admit(tenantId: tenantId)
            let now = clock.now()
            var session = source
            session.id = AgentSessionRecord.newID()
            session.userId = userId
            session.turnUserId = nil
            session.workspaceId = workspace.id
            session.state = .idle
            session.endReason = nil
            session.createdAt = now
            session.lastActivityAt = now
            // The step's own generation here, and no files for the earlier ones (they are the
            // source's): a reader that drew the copied `checkpoint` events corrects them from this.
            let forked = AgentJSON.encode(["status": .string("forked"), "from": .string(id), "step": .int(checkpoint.step),
                                           "generation": head.map { .int(Int($0)) } ?? .null, "workspace": .string(workspace.id),
                                           "model": .string(session.model)])
            try store.insertFork(session, of: id, at: checkpoint, generation: head, forkedEvent: forked)
            logger.info("agent session forked", metadata: ["agent.session": "\(session.id)", "fork.source": "\(id)", "agent.step": "\(checkpoint.step)",
                                                           "workspace.id": "\(workspace.id)"])
            return session
        } catch {
            _ = try? await workspaces.perform(.delete(workspace.id))
            throw error
        }
    }
}
