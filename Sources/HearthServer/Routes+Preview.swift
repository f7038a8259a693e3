import Foundation
import HearthControlPlane
import HearthCore
import HearthRuntime
import HearthWire
import HTTPTypes
import Hummingbird
import NIOCore

/// `/w/{ws}/p/{port}/…`: the authenticated preview of a web server inside a workspace, carried
/// over the agent's tunnel (the guest's network stays closed).
///
/// Each request is one tunnel and one HTTP/1.0 exchange with the guest server, so the guest
/// delimits its answer by closing (never chunked) and no connection state is shared between
/// users. The guest sees neither Hearth's session cookie, nor a Hearth bearer token, nor any
/// `X-Forwarded-*` header the client sent. Answers carry `Content-Security-Policy: sandbox`, so a
/// previewed page runs in an opaque origin and cannot use the user's Hearth session.
struct PreviewRoutes {
    let manager: WorkspaceManager
    let auditor: Auditor
    let cookies: SessionCookies
    static let maxRequestBody = 32 << 20
    static let maxResponseHead = 64 << 10

    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
                                        "proxy-authorization", "proxy-authenticate", "host", "content-length"]

    func register(on router: Router<HearthContext>) {
        for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete, .options] {
            router.on("/w/:ws/p/:port/**", method: method) { request, context in try await proxy(request, context) }
            // The preview's root; without its slash, the page's relative links would miss the prefix.
            router.on("/w/:ws/p/:port", method: method) { request, context in
                guard request.uri.path.hasSuffix("/") else {
                    return Response(status: .movedPermanently, headers: [.location: request.uri.path + "/"])
                }
                return try await proxy(request, context)
            }
        }
    }

    func proxy(_ request: Request, _ context: HearthContext) async throws -> Response {
        let id = try await context.workspaceID(manager)
        guard let port = context.parameters.get("port", as: UInt16.self), port > 0 else {
            throw HearthError(.invalidArgument, "the port must be a number between 1 and 65535")
        }
        let prefix = "/w/\(try context.parameters.require("ws"))/p/\(port)"
        var path = String(request.uri.path.dropFirst(prefix.count))
        if path.isEmpty { path = "/" }
        if let query = request.uri.query { path += "?" + query }
        let body = try await request.body.collect(upTo: Self.maxRequestBody)

        let navigation = request.headers[.secFetchDest].map { $0 == "document" } ?? (path == "/")
        let stream: HostStream
        do {
            stream = try await manager.openStream(id, .tunnel(port: port))
            try await PortTunnelSocket.awaitConnected(stream)
        } catch {
            var mapped = HearthError.from(error)
            if let refused = error as? AgentError, refused.wire.code == .connectionRefused {
                mapped = HearthError(.agentUnavailable, "nothing is listening on port \(port) in this workspace")
            }
            if navigation { auditor.record(context, "preview.open", target: id, result: mapped.code.rawValue, detail: "port \(port)") }
            if request.headers[.accept]?.contains("text/html") == true { return Self.errorPage(mapped) }
            throw mapped
        }
        if navigation { auditor.record(context, "preview.open", target: id, detail: "port \(port) \(path)") }
        do {
            _ = try await stream.send(.bytes, head(request, path: path, port: port, bodyLength: body.readableBytes))
            if body.readableBytes > 0 { _ = try await stream.send(.bytes, body.readableBytesView) }
            let (status, headers, rest) = try await readHead(stream)
            return Response(status: status, headers: headers, body: ResponseBody { writer in
                defer { stream.close() }
                if !rest.isEmpty { try await writer.write(ByteBuffer(bytes: rest)) }
                for try await event in stream {
                    if case .data(_, let bytes) = event { try await writer.write(ByteBuffer(bytes: bytes)) }
                    if case .eof = event { break }
                }
                try await writer.finish(nil)
            })
        } catch {
            stream.close()
            throw error
        }
    }

    /// A browser tab gets the error as a page, not as JSON.
    static func errorPage(_ error: HearthError) -> Response {
        let message = error.message.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        let html = "<!doctype html><meta charset=utf-8><title>Preview unavailable</title><body style=\"font:16px system-ui;margin:3em\">"
            + "<h1>Preview unavailable</h1><p id=hearth-error>\(message)</p><p>Start the server in a terminal, then reload.</p>"
        return Response(status: error.status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The request as the guest server sees it.
    func head(_ request: Request, path: String, port: UInt16, bodyLength: Int) -> [UInt8] {
        var lines = ["\(request.method.rawValue) \(path) HTTP/1.0", "Host: 127.0.0.1:\(port)", "Connection: close"]
        for field in request.headers {
            let name = field.name.canonicalName
            if Self.hopByHop.contains(name) || name.hasPrefix("x-forwarded-") || name == "forwarded" { continue }
            if name == "cookie" {
                if let kept = cookies.strippingSession(field.value) { lines.append("Cookie: \(kept)") }
                continue
            }
            if name == "authorization", field.value.contains("hth_") { continue }
            lines.append("\(field.name.rawName): \(field.value)")
        }
        if bodyLength > 0 || ["POST", "PUT", "PATCH"].contains(request.method.rawValue) { lines.append("Content-Length: \(bodyLength)") }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// Reads the guest's status line and headers; returns the body bytes read past them.
    func readHead(_ stream: HostStream) async throws -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        var buffer: [UInt8] = []
        let separator: [UInt8] = [13, 10, 13, 10]
        while true {
            guard let event = try await stream.next() else { break }
            guard case .data(_, let bytes) = event else {
                if case .eof = event { break }
                continue
            }
            buffer += bytes
            if let end = buffer.firstRange(of: separator) {
                let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                return try parseHead(head, rest: Array(buffer[end.upperBound...]))
            }
            guard buffer.count <= Self.maxResponseHead else { break }
        }
        throw HearthError(.agentUnavailable, "the server in the workspace did not answer with HTTP")
    }

    func parseHead(_ head: String, rest: [UInt8]) throws -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).makeIterator()
        guard let statusLine = lines.next(), statusLine.hasPrefix("HTTP/"),
              let code = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }), (100...599).contains(code) else {
            throw HearthError(.agentUnavailable, "the server in the workspace did not answer with HTTP")
        }
        var fields = HTTPFields()
        var chunked = false
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name.lowercased() == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
            guard let fieldName = HTTPField.Name(name), !Self.hopByHop.contains(fieldName.canonicalName) || fieldName == .contentLength else { continue }
            if fieldName == .setCookie, value.lowercased().hasPrefix(cookies.name.lowercased() + "=") { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        if chunked { throw HearthError(.agentUnavailable, "the server in the workspace answered an HTTP/1.0 request with chunked encoding") }
        fields[.contentSecurityPolicy] = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
        return (HTTPResponse.Status(code: code), fields, rest)
    }
}
