import HearthControlPlane
import Logging

/// The composition of a turn's loop from the session's provider record: filled in once the
/// providers' `AgentLoop` is merged.
enum ProviderAgentLoop {
    static func factory(logger: Logger) -> AgentTurnLoopFactory? { nil }
}
