import HearthCore
import HearthRuntime
import HearthWire

/// A workspace the caller may use, looked up once per request: the id for auditing and logs, and
/// the record the agent is reached with.
public struct ResolvedWorkspace: Sendable {
    public let id: String
    let record: WorkspaceRecord
}

extension WorkspaceManager {
    /// The workspace `ref` names in `tenantId`, or `notFound`: another tenant's workspace is
    /// not found, exactly like one that does not exist.
    public func resolveWorkspace(_ ref: String, tenantId: String) throws -> ResolvedWorkspace {
        guard let record = try store.find(ref, tenantId: tenantId) else { throw HearthError(.notFound, "no workspace \(ref)") }
        return ResolvedWorkspace(id: record.id, record: record)
    }

    /// The workspace with this id in any tenant: only for callers that hold a capability for it
    /// already (a preview grant names the workspace it was issued for).
    public func resolveWorkspace(granted id: String) throws -> ResolvedWorkspace {
        let record = try record(id)
        return ResolvedWorkspace(id: record.id, record: record)
    }

    /// The agent of a resolved, running workspace. A live channel is used as it is; only when the
    /// agent has to be reached again (or a lifecycle operation is under way) is the record read
    /// afresh, so a request costs one lookup.
    ///
    /// `notingUse`: whether this call, and the execs and tunnels it starts, count as someone using
    /// the workspace (idle timeouts). Not for what runs unattended: the IDE's port watch, a
    /// terminal's shell or its reattachment.
    public func agent(for workspace: ResolvedWorkspace, notingUse: Bool = true) async throws -> WorkspaceAgent {
        let id = workspace.id
        let noted = notingUse ? activity : nil
        noted?.note(id)
        // A workspace busy `claiming` (its volume being made after a warm-pool claim) is running
        // and its agent ready: exec and files need no volume, and a claimed workspace's first
        // request would otherwise read its record again.
        if workspace.record.state == .running, busy[id] == nil || busy[id] == Self.claiming, let agent = agents[id], !agent.isClosed {
            return WorkspaceAgent(workspaceID: id, connection: agent, activity: noted)
        }
        return WorkspaceAgent(workspaceID: id, connection: try await agent(for: id), activity: noted)
    }
}
