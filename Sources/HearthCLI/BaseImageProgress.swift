import Foundation
import HearthAPI
import HearthClient

/// A first create waits for the base image (mmdebstrap, a minute or more on a fresh machine):
/// while it does, say which step the server's build is at instead of sitting silent.
enum BaseImageProgress {
    static func whileWaiting<T: Sendable>(_ client: HearthClient, for image: String?,
                                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard image == nil || image == "base" else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                var said: String?
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    guard !Task.isCancelled, let status = try? await client.baseImageStatus(), status.state == "building" else { continue }
                    let step = status.step ?? "building"
                    if step != said {
                        let seconds = Int(status.elapsed_seconds ?? 0)
                        FileHandle.standardError.write(Data("\n  the server is preparing the base image: \(step) (\(seconds) s so far)".utf8))
                        said = step
                    }
                }
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
            }
            throw CancellationError()
        }
    }
}
