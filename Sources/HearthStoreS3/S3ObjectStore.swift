public import AsyncHTTPClient
import Crypto
public import Foundation
public import HearthStore
public import NIOCore
import NIOHTTP1

/// An S3-compatible store (AWS S3, SeaweedFS, MinIO): path-style requests, SigV4, conditional writes
/// with `If-None-Match: *` and `If-Match`, and retries with backoff on 5xx and dropped connections.
public struct S3ObjectStore: ObjectStore {
    public struct Configuration: Sendable {
        public var endpoint: URL
        public var bucket: String
        public var prefix: String
        public var region: String
        public var accessKey: String
        public var secretKey: String
        public var maxAttempts: Int = 6
        public var timeout: TimeAmount = .seconds(60)

        public init(endpoint: URL, bucket: String, prefix: String, region: String, accessKey: String, secretKey: String) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
            self.region = region
            self.accessKey = accessKey
            self.secretKey = secretKey
        }
    }

    public let configuration: Configuration
    let client: HTTPClient
    let signer: SigV4
    public var location: String { "s3://\(configuration.bucket)/\(configuration.prefix)" }

    public init(_ configuration: Configuration, client: HTTPClient = .shared) {
        self.configuration = configuration
        self.client = client
        self.signer = SigV4(accessKey: configuration.accessKey, secretKey: configuration.secretKey, region: configuration.region)
    }

    struct Response { var status: HTTPResponseStatus; var headers: HTTPHeaders; var body: [UInt8] }

    /// Creates the bucket if it does not exist yet.
    public func createBucketIfNeeded() async throws {
        let response = try await send("PUT", key: nil, headers: [], body: [])
        guard response.status.code < 300 || response.status == .conflict else {
            throw StoreError(.unavailable, "cannot create bucket \(configuration.bucket)", detail: Self.describe(response))
        }
    }

    public func put(_ key: String, _ bytes: [UInt8], condition: WriteCondition) async throws -> String {
        var headers: [(String, String)] = [("Content-Type", "application/octet-stream")]
        switch condition {
        case .always: break
        case .ifAbsent: headers.append(("If-None-Match", "*"))
        case .ifMatch(let etag): headers.append(("If-Match", etag))
        }
        let response = try await send("PUT", key: key, headers: headers, body: bytes) { attempt, response in
            // A retried conditional write whose first attempt landed but whose answer was lost finds
            // its own bytes there. Every conditional object here (generation, lease) names its
            // writer, so equal bytes mean this writer's write.
            if attempt > 1, condition != .always, response.status == .preconditionFailed,
               let existing = try? await get(key), existing.bytes == bytes {
                return Response(status: .ok, headers: ["ETag": existing.etag], body: [])
            }
            return nil
        }
        switch response.status.code {
        case 200..<300: return response.headers.first(name: "ETag") ?? ""
        case 409, 412: throw StoreError(.conflict, condition == .ifAbsent ? "object already exists" : "object changed since it was read", detail: key)
        case 507: throw StoreError(.noSpace, "the store is full", detail: key)
        default: throw StoreError(.unavailable, "PUT failed", detail: "\(key): \(Self.describe(response))")
        }
    }

    public func get(_ key: String) async throws -> StoredObject {
        let response = try await send("GET", key: key, headers: [], body: [])
        switch response.status.code {
        case 200..<300: return StoredObject(bytes: response.body, etag: response.headers.first(name: "ETag") ?? "")
        case 404: throw StoreError(.notFound, "object not found", detail: key)
        default: throw StoreError(.unavailable, "GET failed", detail: "\(key): \(Self.describe(response))")
        }
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        guard !range.isEmpty else { return [] }
        let response = try await send("GET", key: key, headers: [("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")], body: [])
        switch response.status.code {
        case 206: return response.body
        case 200: return response.body.count >= range.upperBound ? Array(response.body[range]) : []
        case 404: throw StoreError(.notFound, "object not found", detail: key)
        case 416: throw StoreError(.damaged, "object is shorter than expected", detail: key)
        default: throw StoreError(.unavailable, "GET failed", detail: "\(key): \(Self.describe(response))")
        }
    }

    public func head(_ key: String) async throws -> ObjectInfo? {
        let response = try await send("HEAD", key: key, headers: [], body: [])
        switch response.status.code {
        case 200..<300:
            return ObjectInfo(key: key, size: Int(response.headers.first(name: "Content-Length") ?? "0") ?? 0,
                              etag: response.headers.first(name: "ETag") ?? "",
                              modified: response.headers.first(name: "Last-Modified").flatMap(Self.httpDate) ?? Date())
        case 404: return nil
        default: throw StoreError(.unavailable, "HEAD failed", detail: "\(key): \(Self.describe(response))")
        }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", configuration.prefix + prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send("GET", key: nil, query: query, headers: [], body: [])
            guard response.status.code < 300 else { throw StoreError(.unavailable, "LIST failed", detail: Self.describe(response)) }
            let page = ListPage(xml: String(decoding: response.body, as: UTF8.self))
            for item in page.contents where item.key.hasPrefix(configuration.prefix) {
                result.append(ObjectInfo(key: String(item.key.dropFirst(configuration.prefix.count)), size: item.size, etag: item.etag, modified: item.modified))
            }
            token = page.isTruncated ? page.nextToken : nil
        } while token != nil
        return result.sorted { $0.key < $1.key }
    }

    public func delete(_ key: String, ifMatch: String?) async throws {
        if let ifMatch {
            guard let current = try await head(key) else { return }
            guard current.etag == ifMatch else { throw StoreError(.conflict, "object changed since it was read", detail: key) }
        }
        let response = try await send("DELETE", key: key, headers: [], body: [])
        guard response.status.code < 300 || response.status == .notFound else {
            throw StoreError(.unavailable, "DELETE failed", detail: "\(key): \(Self.describe(response))")
        }
    }

    // MARK: transport

    /// Sends with retries: 5xx answers and transport errors are retried with exponential backoff and
    /// jitter; `resolve` may turn an answer to a retried request into a success.
    func send(_ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)], body: [UInt8],
              resolve: ((Int, Response) async throws -> Response?)? = nil) async throws -> Response {
        var lastError = ""
        for attempt in 1...configuration.maxAttempts {
            if attempt > 1 {
                let backoff = min(2.0, 0.05 * pow(2, Double(attempt - 2))) * Double.random(in: 0.5...1.0)
                try await Task.sleep(nanoseconds: UInt64(backoff * 1e9))
            }
            do {
                let response = try await sendOnce(method, key: key, query: query, headers: headers, body: body)
                if let resolved = try await resolve?(attempt, response) { return resolved }
                if response.status.code >= 500 && response.status.code != 507 {
                    lastError = Self.describe(response)
                    continue
                }
                return response
            } catch let error as StoreError {
                throw error
            } catch {
                lastError = "\(error)"
            }
        }
        throw StoreError(.unavailable, "the object store at \(configuration.endpoint.absoluteString) kept failing", detail: "\(method) \(key ?? ""): \(lastError)")
    }

    private func sendOnce(_ method: String, key: String?, query: [(String, String)], headers: [(String, String)], body: [UInt8]) async throws -> Response {
        var path = "/" + SigV4.encode(configuration.bucket)
        if let key { path += "/" + SigV4.encode(configuration.prefix + key, keepSlash: true) }
        let host = configuration.endpoint.port.map { "\(configuration.endpoint.host ?? "127.0.0.1"):\($0)" } ?? (configuration.endpoint.host ?? "")
        let payloadHash = SigV4.hex(SHA256.hash(data: body))
        let queryString = query.map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: "\(configuration.endpoint.scheme ?? "http")://\(host)\(path)\(queryString.isEmpty ? "" : "?" + queryString)")
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        for (name, value) in signer.sign(method: method, host: host, path: path, query: query, payloadHash: payloadHash) {
            request.headers.add(name: name, value: value)
        }
        if method == "PUT" {
            request.headers.add(name: "Content-Length", value: String(body.count))
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(request, timeout: configuration.timeout)
        let bytes = method == "HEAD" ? ByteBuffer() : try await response.body.collect(upTo: 1 << 30)
        return Response(status: response.status, headers: response.headers, body: Array(bytes.readableBytesView))
    }

    static func describe(_ response: Response) -> String {
        "HTTP \(response.status.code) \(String(decoding: response.body.prefix(300), as: UTF8.self))"
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
