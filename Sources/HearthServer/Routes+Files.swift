import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import Hummingbird
import NIOCore
import Logging

/// `/v1/workspaces/{ws}/files/…` and `/ports`. Contents stream in both directions.
struct FileRoutes {
    typealias Context = HearthContext
    let manager: WorkspaceManager
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        group.get("workspaces/:ws/files/list") { request, context in
            let (workspace, path) = try await target(request, context)
            let entries = try await manager.agent(for: workspace).list(path)
            return try json(API.FileList(path: path, entries: entries.map(Self.entry)))
        }
        group.get("workspaces/:ws/files/stat") { request, context in
            let (workspace, path) = try await target(request, context)
            return try json(Self.entry(try await manager.agent(for: workspace).stat(path)))
        }
        group.get("workspaces/:ws/files/content") { request, context in
            let (workspace, path) = try await target(request, context)
            // The agent answers with the file's stat before its bytes, or with an error.
            let content = try await manager.agent(for: workspace).read(path)
            let stream = content.bytes
            var headers: HTTPFields = [.contentType: "application/octet-stream"]
            if request.uri.queryParameters.get("download") == "1" {
                let name = path.split(separator: "/").last.map(String.init) ?? "file"
                let safe = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0.value >= 32 ? Character($0) : "_" })
                headers[.contentDisposition] = "attachment; filename=\"\(safe)\""
            }
            let length = Self.declaredLength(content.file)
            let logger = auditor.logger
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: length) { writer in
                defer { stream.close() }
                // Exactly `length` bytes, or the connection closes (a file that shrank); a file that
                // grew is cut at its stat size. Without a length the answer is chunked.
                do {
                    _ = try await BoundedRelay.relay(stream, length: length) { try await writer.write(ByteBuffer(bytes: $0)) }
                } catch let short as BoundedRelay.ShortBody {
                    logger.notice("file shorter than its stat size; connection closed",
                                  metadata: ["workspace.id": "\(workspace.id)", "file.expected": "\(short.expected)", "file.sent": "\(short.sent)"])
                    throw short
                }
                try await writer.finish(nil)
            })
        }
        group.put("workspaces/:ws/files/content") { request, context in
            let (workspace, path) = try await target(request, context)
            let mode = request.uri.queryParameters.get("mode").flatMap { UInt32($0, radix: 8) }
            return try await auditor.around(context, "file.write", target: workspace.id, detail: path) {
                try await write(workspace, path, mode: mode, request)
            }
        }
        group.delete("workspaces/:ws/files") { request, context in
            let (workspace, path) = try await target(request, context)
            let recursive = request.uri.queryParameters.get("recursive") == "true"
            try await auditor.around(context, "file.delete", target: workspace.id, detail: path) {
                try await manager.agent(for: workspace).remove(path, recursive: recursive)
            }
            return Response(status: .noContent)
        }
        group.post("workspaces/:ws/files/mkdir") { request, context in
            let workspace = try await context.workspace(manager)
            let body = try await request.decode(as: API.PathBody.self, context: context)
            let path = try Self.normalize(body.path)
            try await auditor.around(context, "file.mkdir", target: workspace.id, detail: path) {
                try await manager.agent(for: workspace).makeDirectory(path, parents: true)
            }
            return Response(status: .created)
        }
        group.post("workspaces/:ws/files/move") { request, context in
            let workspace = try await context.workspace(manager)
            let body = try await request.decode(as: API.MoveBody.self, context: context)
            let (from, to) = (try Self.normalize(body.from), try Self.normalize(body.to))
            try await auditor.around(context, "file.move", target: workspace.id, detail: "\(from) -> \(to)") {
                try await manager.agent(for: workspace).move(from: from, to: to, overwrite: body.overwrite ?? false)
            }
            return Response(status: .noContent)
        }
        group.get("workspaces/:ws/ports") { _, context in
            let ports = try await manager.agent(for: try await context.workspace(manager)).ports()
            return try json(API.PortList(ports: ports.map { API.Port(port: $0.port, address: $0.address, family: $0.family) }))
        }
    }

    /// Streams the request body into `path`, replaced atomically by the agent. With `if_mtime`,
    /// the agent refuses the write when the file changed since the client read it (an editor's
    /// save), checked and replaced under one lock in the guest, so two such saves cannot both win.
    func write(_ workspace: ResolvedWorkspace, _ path: String, mode: UInt32?, _ request: Request) async throws -> Response {
        var unchangedSince: Double?
        if let given = request.uri.queryParameters.get("if_mtime") {
            guard let mtime = Double(given), mtime.isFinite else { throw HearthError(.invalidArgument, "if_mtime must be a number of seconds") }
            unchangedSince = mtime
        }
        let upload = try await manager.agent(for: workspace).write(path, mode: mode, ifUnchangedSince: unchangedSince)
        defer { upload.close() }
        // An agent that stops reading (a full disk) has ended the operation; its answer follows.
        for try await buffer in request.body {
            guard try await upload.send(buffer.readableBytesView) else { break }
        }
        return try json(["bytes": try await upload.finish()], status: .created)
    }

    /// The `Content-Length` to promise for a file the guest described, or nil to send it chunked.
    /// The guest's numbers are not trusted: only a regular file with a size that is representable
    /// gets one (a FIFO, a `/proc` file or a size of `UInt64.max` does not), and the relay then
    /// sends exactly that many bytes whatever the agent streams.
    static func declaredLength(_ stat: WorkspaceFile) -> Int? {
        guard stat.kind == .file, stat.size > 0, let size = Int(exactly: stat.size), size <= Int(Int32.max) << 16 else { return nil }
        return size
    }

    func target(_ request: Request, _ context: Context) async throws -> (ResolvedWorkspace, String) {
        let workspace = try await context.workspace(manager)
        guard let path = request.uri.queryParameters.get("path") else { throw HearthError(.invalidArgument, "the path parameter is required") }
        return (workspace, try Self.normalize(path))
    }

    /// Resolves a path against /workspace and removes `.` and `..`, so the agent only sees clean
    /// absolute paths. A `..` that climbs out of where the path started (/workspace for a relative
    /// path) is refused rather than silently clamped.
    static func normalize(_ path: String) throws -> String {
        guard !path.isEmpty, !path.contains("\0") else { throw HearthError(.invalidArgument, "invalid path") }
        let base: [Substring] = path.hasPrefix("/") ? [] : ["workspace"]
        var parts = base
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                guard parts.count > base.count else {
                    throw HearthError(.invalidArgument, "the path \(path) is outside the \(base.isEmpty ? "root" : "workspace")")
                }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func entry(_ stat: WorkspaceFile) -> API.FileEntry {
        API.FileEntry(name: stat.name, kind: stat.kind.rawValue, size: stat.size, mode: stat.mode, mtime: stat.mtime, link_target: stat.linkTarget)
    }
}
