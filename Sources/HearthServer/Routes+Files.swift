import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthRuntime
import HearthWire
import Hummingbird
import NIOCore

/// `/v1/workspaces/{ws}/files/…` and `/ports`. Contents stream in both directions.
struct FileRoutes {
    typealias Context = HearthContext
    let manager: WorkspaceManager
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        group.get("workspaces/:ws/files/list") { request, context in
            let (ref, path) = try await target(request, context)
            guard case .reply(.directory(let entries)) = try await manager.perform(.agent(ref, .listDirectory(path: path))) else {
                throw HearthError(.internal, "unexpected agent reply")
            }
            return try json(API.FileList(path: path, entries: entries.map(Self.entry)))
        }
        group.get("workspaces/:ws/files/stat") { request, context in
            let (ref, path) = try await target(request, context)
            guard case .reply(.file(let stat)) = try await manager.perform(.agent(ref, .stat(path: path))) else {
                throw HearthError(.internal, "unexpected agent reply")
            }
            return try json(Self.entry(stat))
        }
        group.get("workspaces/:ws/files/content") { request, context in
            let (ref, path) = try await target(request, context)
            let stream = try await manager.openStream(ref, .readFile(path: path, offset: nil, length: nil))
            // The agent answers with the file's stat before its bytes, or with an error.
            let stat: FileStat
            do {
                stat = try await Self.awaitOpened(stream)
            } catch {
                stream.close()
                throw HearthError.from(error)
            }
            var headers: HTTPFields = [.contentType: "application/octet-stream"]
            if request.uri.queryParameters.get("download") == "1" {
                let name = path.split(separator: "/").last.map(String.init) ?? "file"
                let safe = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0.value >= 32 ? Character($0) : "_" })
                headers[.contentDisposition] = "attachment; filename=\"\(safe)\""
            }
            let length = Self.declaredLength(stat)
            let logger = auditor.logger
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: length) { writer in
                defer { stream.close() }
                // Exactly `length` bytes, or the connection closes (a file that shrank); a file that
                // grew is cut at its stat size. Without a length the answer is chunked.
                do {
                    _ = try await BoundedRelay.relay(stream, length: length) { try await writer.write(ByteBuffer(bytes: $0)) }
                } catch let short as BoundedRelay.ShortBody {
                    logger.notice("file shorter than its stat size; connection closed",
                                  metadata: ["workspace.id": "\(ref)", "file.expected": "\(short.expected)", "file.sent": "\(short.sent)"])
                    throw short
                }
                try await writer.finish(nil)
            })
        }
        group.put("workspaces/:ws/files/content") { request, context in
            let (ref, path) = try await target(request, context)
            let mode = request.uri.queryParameters.get("mode").flatMap { UInt32($0, radix: 8) }
            return try await auditor.around(context, "file.write", target: ref, detail: path) {
                try await write(ref, path, mode: mode, request)
            }
        }
        group.delete("workspaces/:ws/files") { request, context in
            let (ref, path) = try await target(request, context)
            let recursive = request.uri.queryParameters.get("recursive") == "true"
            _ = try await auditor.around(context, "file.delete", target: ref, detail: path) {
                try await manager.perform(.agent(ref, .remove(path: path, recursive: recursive)))
            }
            return Response(status: .noContent)
        }
        group.post("workspaces/:ws/files/mkdir") { request, context in
            let ref = try await context.workspaceID(manager)
            let body = try await request.decode(as: API.PathBody.self, context: context)
            let path = try Self.normalize(body.path)
            _ = try await auditor.around(context, "file.mkdir", target: ref, detail: path) {
                try await manager.perform(.agent(ref, .makeDirectory(path: path, parents: true)))
            }
            return Response(status: .created)
        }
        group.post("workspaces/:ws/files/move") { request, context in
            let ref = try await context.workspaceID(manager)
            let body = try await request.decode(as: API.MoveBody.self, context: context)
            let (from, to) = (try Self.normalize(body.from), try Self.normalize(body.to))
            _ = try await auditor.around(context, "file.move", target: ref, detail: "\(from) -> \(to)") {
                try await manager.perform(.agent(ref, .move(from: from, to: to, overwrite: body.overwrite ?? false)))
            }
            return Response(status: .noContent)
        }
        group.get("workspaces/:ws/ports") { _, context in
            let ref = try await context.workspaceID(manager)
            guard case .reply(.ports(let ports)) = try await manager.perform(.agent(ref, .listPorts)) else {
                throw HearthError(.internal, "unexpected agent reply")
            }
            return try json(API.PortList(ports: ports.map { API.Port(port: $0.port, address: $0.address, family: $0.family) }))
        }
    }

    /// Streams the request body into `path`, replaced atomically by the agent. With `if_mtime`,
    /// the write is refused when the file changed since the client read it (an editor's save).
    func write(_ ref: String, _ path: String, mode: UInt32?, _ request: Request) async throws -> Response {
        if let expected = request.uri.queryParameters.get("if_mtime").flatMap(Double.init) {
            if case .reply(.file(let stat))? = try? await manager.perform(.agent(ref, .stat(path: path))), abs(stat.mtime - expected) > 0.0005 {
                throw HearthError(.conflict, "the file changed on disk since it was opened")
            }
        }
        let stream = try await manager.openStream(ref, .writeFile(path: path, mode: mode, createParents: true))
        defer { stream.close() }
        // An agent that stops reading (a full disk) has ended the operation; its answer follows.
        for try await buffer in request.body {
            guard try await stream.send(.bytes, buffer.readableBytesView) else { break }
        }
        try await stream.sendEOF(.bytes)
        for try await event in stream {
            if case .control(.result(.written(let bytes))) = event { return try json(["bytes": bytes], status: .created) }
            if case .control(.failed(let error)) = event { throw AgentError(error) }
        }
        throw HearthError(.agentUnavailable, "the workspace agent went away during the write")
    }

    static func awaitOpened(_ stream: HostStream) async throws -> FileStat {
        for try await event in stream {
            if case .control(.result(.file(let stat))) = event { return stat }
            if case .control(.failed(let error)) = event { throw AgentError(error) }
        }
        throw HearthError(.agentUnavailable, "the workspace agent went away")
    }

    /// The `Content-Length` to promise for a file the guest described, or nil to send it chunked.
    /// The guest's numbers are not trusted: only a regular file with a size that is representable
    /// gets one (a FIFO, a `/proc` file or a size of `UInt64.max` does not), and the relay then
    /// sends exactly that many bytes whatever the agent streams.
    static func declaredLength(_ stat: FileStat) -> Int? {
        guard stat.kind == .file, stat.size > 0, let size = Int(exactly: stat.size), size <= Int(Int32.max) << 16 else { return nil }
        return size
    }

    func target(_ request: Request, _ context: Context) async throws -> (String, String) {
        let ref = try await context.workspaceID(manager)
        guard let path = request.uri.queryParameters.get("path") else { throw HearthError(.invalidArgument, "the path parameter is required") }
        return (ref, try Self.normalize(path))
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

    static func entry(_ stat: FileStat) -> API.FileEntry {
        API.FileEntry(name: stat.name, kind: stat.kind.rawValue, size: stat.size, mode: stat.mode, mtime: stat.mtime, link_target: stat.linkTarget)
    }
}
