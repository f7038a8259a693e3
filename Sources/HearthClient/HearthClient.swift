public import AsyncHTTPClient
public import Foundation
public import HearthAPI
public import Logging
public import NIOCore
public import NIOHTTP1

/// A client of the Hearth REST API.
public struct HearthClient: Sendable {
    public let baseURL: String
    public let token: String?
    let http: HTTPClient

    /// Long operations (a first create builds the base image) must not hit a read timeout; requests
    /// are bounded by the server's own deadlines instead.
    public static let defaultHTTPClient = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: nil)))

    public init(baseURL: String, token: String?, http: HTTPClient = HearthClient.defaultHTTPClient) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.http = http
    }

    /// An error the server answered with, or a transport failure (`code` "unreachable").
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var status: Int
        public var code: String
        public var message: String
        /// The server's id for the failed request, from its error body.
        public var requestId: String? = nil
        public var description: String { message }
    }

    // MARK: Workspaces

    public func health() async throws -> API.Health { try await json(.GET, "/v1/health") }
    public func runtimes() async throws -> [API.RuntimeBody] {
        let body: [String: [API.RuntimeBody]] = try await json(.GET, "/v1/runtimes")
        return body["runtimes"] ?? []
    }
    public func create(_ body: API.CreateWorkspaceBody) async throws -> API.WorkspaceBody { try await json(.POST, "/v1/workspaces", body: body) }
    public func list() async throws -> [API.WorkspaceBody] {
        let list: API.WorkspaceList = try await json(.GET, "/v1/workspaces")
        return list.workspaces
    }
    public func get(_ ws: String) async throws -> API.WorkspaceBody { try await json(.GET, "/v1/workspaces/\(escape(ws))") }
    /// Changes the workspace's idle timeout and commit interval (nil: unchanged; 0: off).
    public func configure(_ ws: String, _ settings: API.WorkspaceSettingsBody) async throws -> API.WorkspaceBody {
        try await json(.PATCH, "/v1/workspaces/\(escape(ws))", body: settings)
    }
    public func lifecycle(_ ws: String, _ verb: String) async throws -> API.WorkspaceBody {
        try await json(.POST, "/v1/workspaces/\(escape(ws))/\(verb)")
    }
    public func delete(_ ws: String) async throws { _ = try await send(.DELETE, "/v1/workspaces/\(escape(ws))") }
    public func ports(_ ws: String) async throws -> [API.Port] {
        let list: API.PortList = try await json(.GET, "/v1/workspaces/\(escape(ws))/ports")
        return list.ports
    }
    public func listFiles(_ ws: String, path: String) async throws -> API.FileList {
        try await json(.GET, "/v1/workspaces/\(escape(ws))/files/list?path=\(escape(path))")
    }
    public func stat(_ ws: String, path: String) async throws -> API.FileEntry {
        try await json(.GET, "/v1/workspaces/\(escape(ws))/files/stat?path=\(escape(path))")
    }

    // MARK: Exec

    /// Runs a command and calls `onFrame` for each frame of output as it arrives.
    public func exec(_ ws: String, _ body: API.ExecBody, onFrame: (ExecStream.Kind, [UInt8]) async throws -> Void) async throws {
        var request = makeRequest(.POST, "/v1/workspaces/\(escape(ws))/exec")
        request.body = .bytes(ByteBuffer(bytes: try API.encoder().encode(body)))
        request.headers.add(name: "Content-Type", value: "application/json")
        let response = try await execute(request)
        guard response.status == .ok else { throw try await failure(response) }
        var parser = ExecStream.Parser()
        for try await buffer in response.body {
            parser.append(buffer.readableBytesView)
            while let (kind, payload) = try parser.next() { try await onFrame(kind, payload) }
        }
    }

    /// Runs a command to completion, collecting its output.
    public func run(_ ws: String, _ argv: [String], stdin: String? = nil, timeoutMs: UInt64? = nil) async throws -> ExecResult {
        var result = ExecResult()
        try await exec(ws, API.ExecBody(argv: argv, timeout_ms: timeoutMs, stdin: stdin)) { kind, payload in
            switch kind {
            case .stdout: result.stdout += payload
            case .stderr: result.stderr += payload
            case .exit: result.exit = try JSONDecoder().decode(ExecStream.Exit.self, from: Data(payload))
            case .error:
                let error = try JSONDecoder().decode(API.ErrorBody.self, from: Data(payload))
                throw Failure(status: 0, code: error.error.code, message: error.error.message)
            default: break
            }
        }
        return result
    }

    public struct ExecResult: Sendable {
        public var stdout: [UInt8] = []
        public var stderr: [UInt8] = []
        public var exit: ExecStream.Exit?
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    // MARK: Files

    public func download(_ ws: String, path: String, into sink: (ByteBuffer) async throws -> Void) async throws {
        let response = try await execute(makeRequest(.GET, "/v1/workspaces/\(escape(ws))/files/content?path=\(escape(path))"))
        guard response.status == .ok else { throw try await failure(response) }
        for try await buffer in response.body { try await sink(buffer) }
    }

    public func upload<S: AsyncSequence & Sendable>(_ ws: String, path: String, mode: UInt32? = nil, length: Int64?, body: S) async throws
    where S.Element == ByteBuffer {
        var query = "path=\(escape(path))"
        if let mode { query += "&mode=\(String(mode, radix: 8))" }
        var request = makeRequest(.PUT, "/v1/workspaces/\(escape(ws))/files/content?\(query)")
        request.body = .stream(body, length: length.map { .known($0) } ?? .unknown)
        let response = try await execute(request)
        guard response.status == .created else { throw try await failure(response) }
        _ = try await response.body.collect(upTo: 1 << 16)
    }

    // MARK: Plumbing

    func makeRequest(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, timeout: .hours(24))
        } catch {
            throw Failure(status: 0, code: "unreachable", message: "cannot reach the Hearth server at \(baseURL): \(error)")
        }
    }

    func send(_ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<String>.none) async throws -> ByteBuffer {
        var request = makeRequest(method, path)
        if let body {
            request.body = .bytes(ByteBuffer(bytes: try API.encoder().encode(body)))
            request.headers.add(name: "Content-Type", value: "application/json")
        } else if method == .POST {
            request.body = .bytes(ByteBuffer(string: "{}"))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await execute(request)
        guard (200..<300).contains(response.status.code) else { throw try await failure(response) }
        return try await response.body.collect(upTo: 64 << 20)
    }

    func json<T: Decodable>(_ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<String>.none) async throws -> T {
        let buffer = try await send(method, path, body: body)
        return try API.decoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    func failure(_ response: HTTPClientResponse) async throws -> Failure {
        let body = try await response.body.collect(upTo: 1 << 20)
        if let error = try? JSONDecoder().decode(API.ErrorBody.self, from: Data(body.readableBytesView)) {
            return Failure(status: Int(response.status.code), code: error.error.code, message: error.error.message,
                           requestId: error.error.requestId ?? response.headers.first(name: "X-Request-Id"))
        }
        return Failure(status: Int(response.status.code), code: "http_\(response.status.code)", message: "the server answered \(response.status)")
    }

    func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? value
    }
}
