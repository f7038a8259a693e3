import Dispatch

/// Runs blocking file I/O off Swift's cooperative pool. That pool has one thread per core, and a
/// pack's write and fsync held one of the two here for tens of milliseconds while chunking waited:
/// on this queue the cores keep chunking while the disk syncs.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "hearth.store.blocking-io", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
