import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthRuntime
import HearthWire
import Hummingbird
import NIOCore

/// `/v1/workspaces/{ws}/files/…` and `/ports`. Contents stream in both directions.
struct FileRoutes<Context: RequestContext> {
    let manager: WorkspaceManager

    func register(on group: RouterGroup<Context>) {
        group.get("workspaces/:ws/files/list") { request, context in
            let (ref, path) = try Self.target(request, context)
            guard case .reply(.directory(let entries)) = try await manager.perform(.agent(ref, .listDirectory(path: path))) else {
                throw HearthError(.internal, "unexpected agent reply")
            }
            return try json(API.FileList(path: path, entries: entries.map(Self.entry)))
        }
        group.get("workspaces/:ws/files/stat") { request, context in
            let (ref, path) = try Self.target(request, context)
            guard case .reply(.file(let stat)) = try await manager.perform(.agent(ref, .stat(path: path))) else {
                throw HearthError(.internal, "unexpected agent reply")
            }
            return try json(Self.entry(stat))
        }
        group.get("workspaces/:ws/files/content") { request, context in
            let (ref, path) = try Self.target(request, context)
            let stream = try await manager.openStream(ref, .readFile(path: path, offset: nil, length: nil))
            // The agent answers with the file's stat before its bytes, or with an error.
            let size: UInt64
            do {
                size = try await Self.awaitOpened(stream)
            } catch {
                stream.close()
                throw HearthError.from(error)
            }
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                            body: ResponseBody(contentLength: Int(size)) { writer in
                defer { stream.close() }
                var sent: UInt64 = 0
                for try await event in stream {
                    if case .data(_, let bytes) = event {
                        sent += UInt64(bytes.count)
                        try await writer.write(ByteBuffer(bytes: bytes))
                    } else if case .eof = event {
                        break
                    } else if case .control(.failed(let error)) = event {
                        throw AgentError(error)
                    }
                }
                // A file that shrank while being read cannot honour its length: fail the response.
                guard sent == size else { throw HearthError(.conflict, "the file changed while it was read") }
                try await writer.finish(nil)
            })
        }
        group.put("workspaces/:ws/files/content") { request, context in
            let (ref, path) = try Self.target(request, context)
            let mode = request.uri.queryParameters.get("mode").flatMap { UInt32($0, radix: 8) }
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
        group.delete("workspaces/:ws/files") { request, context in
            let (ref, path) = try Self.target(request, context)
            let recursive = request.uri.queryParameters.get("recursive") == "true"
            _ = try await manager.perform(.agent(ref, .remove(path: path, recursive: recursive)))
            return Response(status: .noContent)
        }
        group.post("workspaces/:ws/files/mkdir") { request, context in
            let ref = try context.parameters.require("ws")
            let body = try await request.decode(as: API.PathBody.self, context: context)
            _ = try await manager.perform(.agent(ref, .makeDirectory(path: try Self.normalize(body.path), parents: true)))
            return Response(status: .created)
        }
        group.post("workspaces/:ws/files/move") { request, context in
            let ref = try context.parameters.require("ws")
            let body = try await request.decode(as: API.MoveBody.self, context: context)
            _ = try await manager.perform(.agent(ref, .move(from: try Self.normalize(body.from), to: try Self.normalize(body.to),
                                                            overwrite: body.overwrite ?? false)))
            return Response(status: .noContent)
        }
        group.get("workspaces/:ws/ports") { _, context in
            let ref = try context.parameters.require("ws")
            guard case .reply(.ports(let ports)) = try await manager.perform(.agent(ref, .listPorts)) else {
                throw HearthError(.internal, "unexpected agent reply")
            }
            return try json(API.PortList(ports: ports.map { API.Port(port: $0.port, address: $0.address, family: $0.family) }))
        }
    }

    static func awaitOpened(_ stream: HostStream) async throws -> UInt64 {
        for try await event in stream {
            if case .control(.result(.file(let stat))) = event { return stat.size }
            if case .control(.failed(let error)) = event { throw AgentError(error) }
        }
        throw HearthError(.agentUnavailable, "the workspace agent went away")
    }

    static func target(_ request: Request, _ context: Context) throws -> (String, String) {
        let ref = try context.parameters.require("ws")
        guard let path = request.uri.queryParameters.get("path") else { throw HearthError(.invalidArgument, "the path parameter is required") }
        return (ref, try normalize(path))
    }

    /// Resolves a path against /workspace and removes `.` and `..`, so the agent only sees clean absolute paths.
    static func normalize(_ path: String) throws -> String {
        guard !path.isEmpty, !path.contains("\0") else { throw HearthError(.invalidArgument, "invalid path") }
        let absolute = path.hasPrefix("/") ? path : "/workspace/" + path
        var parts: [Substring] = []
        for part in absolute.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func entry(_ stat: FileStat) -> API.FileEntry {
        API.FileEntry(name: stat.name, kind: stat.kind.rawValue, size: stat.size, mode: stat.mode, mtime: stat.mtime, link_target: stat.linkTarget)
    }
}
