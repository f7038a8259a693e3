import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import Hummingbird

/// `/v1/workspaces/{ws}/sync` and `/generations…` (issue 16): parse, then one `WorkspaceAction`.
/// Paths here are inside the workspace's committed layer and are resolved in the store's trees,
/// never on the host.
struct GenerationRoutes {
    let manager: WorkspaceManager
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        group.post("workspaces/:ws/sync") { _, context in
            let id = try await context.workspaceID(manager)
            return try WorkspaceRoutes.respond(try await auditor.around(context, "workspace.sync", target: id) { try await manager.perform(.sync(id)) })
        }
        group.post("workspaces/:ws/rollback") { request, context in
            let id = try await context.workspaceID(manager)
            let body = try await request.decode(as: API.RollbackBody.self, context: context)
            _ = try context.writer()
            return try WorkspaceRoutes.respond(try await auditor.around(context, "workspace.rollback", target: id, detail: "generation \(body.generation)") {
                try await manager.perform(.rollback(id, generation: body.generation))
            })
        }
        group.post("workspaces/:ws/fork") { request, context in
            let id = try await context.workspaceID(manager)
            let body = try await request.decode(as: API.ForkBody.self, context: context)
            _ = try context.writer()
            let outcome = try await auditor.around(context, "workspace.fork", target: id,
                                                   detail: body.generation.map { "generation \($0)" } ?? "generation now") {
                try await manager.perform(.fork(id, generation: body.generation, name: body.name))
            }
            if case .workspace(let forked) = outcome {
                await auditor.record(context, "workspace.create", target: forked.id, detail: "forked from \(id)")
            }
            return try WorkspaceRoutes.respond(outcome, status: .created)
        }
        group.get("workspaces/:ws/generations") { _, context in
            try WorkspaceRoutes.respond(try await manager.perform(.generations(try await context.workspaceID(manager))))
        }
        group.get("workspaces/:ws/generations/:generation/files") { request, context in
            let id = try await context.workspaceID(manager)
            let (generation, path) = (try Self.generation(context.parameters.get("generation")), Self.path(request))
            guard case .generationListing(let listing) = try await manager.perform(.listGeneration(id, generation: generation, path: path)) else {
                throw HearthError(.internal, "unexpected outcome")
            }
            return try json(API.GenerationFilesBody(listing, path: path))
        }
        group.get("workspaces/:ws/generations/:generation/content") { request, context in
            let id = try await context.workspaceID(manager)
            let (generation, path) = (try Self.generation(context.parameters.get("generation")), Self.path(request))
            guard case .generationFile(let bytes) = try await manager.perform(.readGeneration(id, generation: generation, path: path)) else {
                throw HearthError(.internal, "unexpected outcome")
            }
            // Served as bytes, never as a page: the file is the workspace's.
            return Response(status: .ok, headers: [.contentType: "application/octet-stream", .xContentTypeOptions: "nosniff"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        group.post("workspaces/:ws/generations/:generation/restore") { request, context in
            let id = try await context.workspaceID(manager)
            let generation = try Self.generation(context.parameters.get("generation"))
            let body = try await request.decode(as: API.RestoreFileBody.self, context: context)
            _ = try context.writer()
            guard body.path.utf8.count <= 4096 else { throw HearthError(.invalidArgument, "the path is longer than 4096 bytes") }
            let path = body.path
            let outcome = try await auditor.around(context, "workspace.restore_file", target: id,
                                                   detail: "generation \(generation) \(path.prefix(256))") {
                try await manager.perform(.restoreFile(id, generation: generation, path: path))
            }
            guard case .restoredFile(let restored) = outcome else { throw HearthError(.internal, "unexpected outcome") }
            return try json(API.RestoredFileBody(path: path, generation: generation, bytes: restored.bytes, mode: restored.mode))
        }
        group.get("workspaces/:ws/generations/:generation/diff") { request, context in
            let id = try await context.workspaceID(manager)
            let from = try Self.generation(context.parameters.get("generation"))
            let to = try Self.generation(request.uri.queryParameters.get("to").map { String($0) })
            guard case .generationDiff(let changes, let truncated) = try await manager.perform(.diffGenerations(id, from: from, to: to)) else {
                throw HearthError(.internal, "unexpected outcome")
            }
            return try json(API.GenerationDiffBody(from: from, to: to, changes: changes, truncated: truncated))
        }
    }

    static func generation(_ text: String?) throws -> UInt64 {
        guard let text, text.utf8.count <= 20, let number = UInt64(text), number > 0 else {
            throw HearthError(.invalidArgument, "a generation is a positive whole number")
        }
        return number
    }

    /// The path inside the workspace (`/` when absent); bounded here, checked name by name below.
    static func path(_ request: Request) -> String {
        String((request.uri.queryParameters.get("path") ?? "/").prefix(4096))
    }
}
