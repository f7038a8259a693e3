public import HearthCore
import HearthRuntime
package import HearthWire

extension HearthError {
    /// An operation the agent refused, as the client should see it. The one place a `WireError`
    /// becomes a `HearthError`.
    package init(agent error: WireError) {
        let code: HearthError.Code = switch error.code {
        case .notFound: .notFound
        case .permissionDenied: .forbidden
        case .alreadyExists, .changed: .conflict
        case .notADirectory, .isADirectory, .invalidArgument: .invalidArgument
        case .noSpace: .noSpace
        case .connectionRefused: .agentUnavailable
        case .timeout: .timeout
        default: .internal
        }
        self.init(code, error.message)
    }

    /// Any error thrown while serving, as a `HearthError`: agent refusals keep their meaning, a
    /// guest's malformed bytes are a protocol error, anything else is internal (detail logged).
    public static func from(_ error: any Error) -> HearthError {
        if let error = error as? HearthError { return error }
        if let error = error as? AgentError { return HearthError(agent: error.wire) }
        if let error = error as? WireError { return HearthError(.agentProtocol, "the workspace agent sent malformed data", detail: "\(error)") }
        return HearthError(.internal, "internal error", detail: "\(error)")
    }

    /// Runs `body`, rethrowing any error as a `HearthError` (cancellation stays cancellation).
    static func mapping<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as CancellationError {
            throw error
        } catch {
            throw HearthError.from(error)
        }
    }

    static let agentWentAway = HearthError(.agentUnavailable, "the workspace agent went away")
}
