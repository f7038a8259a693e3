public import Foundation
public import HearthCore
import Synchronization

/// The one build of the base image a server runs at a time, and what it is doing now.
///
/// Every `ImageStore` copy of a server shares it, so a create that arrives while `hearth serve`'s
/// start-up preparation is building waits for that build instead of starting a second mmdebstrap,
/// and `GET /v1/images/base` can say how far it is.
public final class BaseImageBuild: Sendable {
    public enum Phase: Sendable, Equatable {
        case idle
        case building(since: Date, step: String)
        case ready(id: String)
        case failed(message: String, at: Date)
    }

    private struct State {
        var phase: Phase = .idle
        /// The build in flight. Owned here, not by whichever request started it, so a client that
        /// goes away does not cancel the build the others wait for; `cancel()` ends it at shutdown.
        var task: Task<ImageRef, any Error>?
    }

    private let state = Mutex(State())

    public init() {}

    public var phase: Phase { state.withLock { $0.phase } }

    /// Joins the build in flight, or starts `build` when none is.
    func run(_ build: @escaping @Sendable (_ step: @escaping @Sendable (String) -> Void) async throws -> ImageRef) async throws -> ImageRef {
        let task: Task<ImageRef, any Error> = state.withLock { state in
            if let task = state.task { return task }
            state.phase = .building(since: Date(), step: "starting")
            // Strong: the build records its own end, and this object outlives it (a store owns it).
            let owner = self
            let task = Task { () async throws -> ImageRef in
                do {
                    let image = try await build { step in owner.step(step) }
                    owner.finish(.ready(id: image.id))
                    return image
                } catch {
                    owner.finish(.failed(message: (error as? HearthError)?.message ?? "the base image could not be built", at: Date()))
                    throw error
                }
            }
            state.task = task
            return task
        }
        return try await task.value
    }

    /// Records an image found already built (no build ran).
    func found(_ image: ImageRef) {
        state.withLock { if $0.task == nil { $0.phase = .ready(id: image.id) } }
    }

    /// Cancels the build in flight (server shutdown); waiting callers get its error.
    public func cancel() {
        state.withLock { $0.task }?.cancel()
    }

    private func step(_ step: String) {
        state.withLock { state in
            if case .building(let since, _) = state.phase { state.phase = .building(since: since, step: step) }
        }
    }

    private func finish(_ phase: Phase) {
        state.withLock { state in
            state.phase = phase
            state.task = nil
        }
    }
}
