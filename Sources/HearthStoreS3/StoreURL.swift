public import Foundation
public import HearthStore

/// Parses a store URL into a store:
/// `file:///abs/path`, or `s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:8333&region=us-east-1`
/// with credentials from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
public enum StoreURL {
    public static func open(_ text: String, environment: [String: String]) async throws -> any ObjectStore {
        guard let url = URLComponents(string: text), let scheme = url.scheme else {
            throw StoreError(.invalidArgument, "invalid store URL \"\(text)\": use file:///abs/path or s3://BUCKET/PREFIX?endpoint=URL")
        }
        switch scheme {
        case "file":
            guard url.path.hasPrefix("/"), url.host == nil || url.host == "" else {
                throw StoreError(.invalidArgument, "a file store URL needs an absolute path: file:///abs/path")
            }
            return try LocalObjectStore(root: URL(fileURLWithPath: url.path))
        case "s3":
            guard let bucket = url.host, !bucket.isEmpty else { throw StoreError(.invalidArgument, "an s3 store URL needs a bucket: s3://BUCKET/PREFIX") }
            let items = url.queryItems ?? []
            let endpointText = items.first { $0.name == "endpoint" }?.value ?? "https://s3.amazonaws.com"
            guard let endpoint = URL(string: endpointText), endpoint.host != nil else {
                throw StoreError(.invalidArgument, "invalid endpoint \"\(endpointText)\" in the store URL")
            }
            guard let accessKey = environment["AWS_ACCESS_KEY_ID"], let secretKey = environment["AWS_SECRET_ACCESS_KEY"] else {
                throw StoreError(.invalidArgument, "an s3 store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
            }
            let prefix = String(url.path.drop(while: { $0 == "/" }))
            let store = S3ObjectStore(.init(endpoint: endpoint, bucket: bucket, prefix: prefix,
                                            region: items.first { $0.name == "region" }?.value ?? "us-east-1",
                                            accessKey: accessKey, secretKey: secretKey))
            try await store.createBucketIfNeeded()
            return store
        default:
            throw StoreError(.invalidArgument, "unsupported store scheme \"\(scheme)\": use file:// or s3://")
        }
    }
}
