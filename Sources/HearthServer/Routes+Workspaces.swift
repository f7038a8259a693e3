import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import Hummingbird
import HearthIdentity

/// `/v1/workspaces`: parse, then hand one `WorkspaceAction` to the manager.
struct WorkspaceRoutes {
    let manager: WorkspaceManager
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        group.post("workspaces") { request, context in
            let body = try await request.decode(as: API.CreateWorkspaceBody.self, context: context)
            let writer = try context.writer()
            let action = WorkspaceAction.create(try Self.parse(body, tenantId: writer.tenantId, byOperator: writer.isOperator))
            let outcome = try await auditor.around(context, "workspace.create", target: body.name ?? "") { try await manager.perform(action) }
            return try Self.respond(outcome, status: .created)
        }
        group.get("workspaces") { _, context in try Self.respond(try await manager.perform(.list(tenantId: try context.caller().tenantId))) }
        group.patch("workspaces/:ws") { request, context in
            let id = try await context.workspaceID(manager)
            let body = try await request.decode(as: API.WorkspaceSettingsBody.self, context: context)
            _ = try context.writer()
            try Self.validate(idleTimeout: body.idle_timeout_s, commitInterval: body.commit_interval_s)
            let detail = [body.idle_timeout_s.map { "idle_timeout_s=\($0)" }, body.commit_interval_s.map { "commit_interval_s=\($0)" }]
                .compactMap { $0 }.joined(separator: " ")
            return try Self.respond(try await auditor.around(context, "workspace.configure", target: id, detail: detail) {
                try await manager.perform(.configure(id, idleTimeoutSeconds: body.idle_timeout_s, commitIntervalSeconds: body.commit_interval_s))
            })
        }
        group.get("workspaces/:ws") { _, context in
            try Self.respond(try await manager.perform(.get(try await context.workspaceID(manager))))
        }
        group.delete("workspaces/:ws") { _, context in
            let id = try await context.workspaceID(manager)
            return try Self.respond(try await auditor.around(context, "workspace.delete", target: id) { try await manager.perform(.delete(id)) })
        }
        for verb in ["start", "stop", "pause", "resume"] {
            group.post("workspaces/:ws/\(verb)") { _, context in
                let id = try await context.workspaceID(manager)
                let action: WorkspaceAction = switch verb {
                case "start": .start(id)
                case "stop": .stop(id)
                case "pause": .pause(id)
                default: .resume(id)
                }
                return try Self.respond(try await auditor.around(context, "workspace.\(verb)", target: id) { try await manager.perform(action) })
            }
        }
    }

    /// The bounds of the two per-workspace settings, at create and at `PATCH`.
    static func validate(idleTimeout: Int?, commitInterval: Int?) throws {
        if let seconds = commitInterval, seconds != 0, !(10...86_400).contains(seconds) {
            throw HearthError(.invalidArgument, "commit_interval_s is 10 to 86400 seconds, or 0 for commits only on pause, stop and sync")
        }
        if let seconds = idleTimeout, seconds != 0, !(300...604_800).contains(seconds) {
            throw HearthError(.invalidArgument, "idle_timeout_s is 300 to 604800 seconds (5 minutes to 7 days), or 0 for never")
        }
    }

    static func parse(_ body: API.CreateWorkspaceBody, tenantId: String, byOperator: Bool = false) throws -> CreateWorkspace {
        var runtime: RuntimeKind?
        if let name = body.runtime {
            guard let kind = RuntimeKind(rawValue: name), kind != .process else {
                throw HearthError(.invalidArgument, "unknown runtime \(name): use gvisor or qemu")
            }
            runtime = kind
        }
        var limits: ResourceLimits?
        if body.cpus != nil || body.memory_mib != nil || body.disk_mib != nil {
            let defaults = ResourceLimits()
            limits = ResourceLimits(cpus: body.cpus ?? defaults.cpus, memoryMiB: body.memory_mib ?? defaults.memoryMiB, diskMiB: body.disk_mib)
        }
        if let image = body.image, image.utf8.count > 200 { throw HearthError(.invalidArgument, "an image reference is at most 200 bytes") }
        try validate(idleTimeout: body.idle_timeout_s, commitInterval: body.commit_interval_s)
        var request = CreateWorkspace(tenantId: tenantId, name: body.name, image: body.image, runtime: runtime, limits: limits, byOperator: byOperator)
        request.commitIntervalSeconds = body.commit_interval_s
        request.idleTimeoutSeconds = body.idle_timeout_s
        return request
    }

    static func respond(_ outcome: ActionOutcome, status: HTTPResponse.Status = .ok) throws -> Response {
        switch outcome {
        case .workspace(let w): return try json(API.WorkspaceBody(w), status: status)
        case .workspaces(let all): return try json(API.WorkspaceList(workspaces: all.map(API.WorkspaceBody.init)))
        case .deleted: return Response(status: .noContent)
        case .committed(let commit): return try json(API.SyncBody(commit))
        case .generations(let all): return try json(API.GenerationList(generations: all.map(API.GenerationBody.init)))
        case .generationListing, .generationFile, .generationDiff, .restoredFile: throw HearthError(.internal, "unexpected outcome")
        }
    }
}

func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try API.encoder().encode(value)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
