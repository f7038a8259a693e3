import Synchronization
/// Byte counts of the channel, for the operator's metrics. The runtime target knows no metrics
/// library: the control plane hands in a sink when it adopts the connection.
extension AgentConnection {
    /// Calls `sink` with the bytes of every whole frame (header included) read from and written
    /// to the agent from now on. One sink per connection; a later call replaces it.
    public func countTraffic(_ sink: @escaping @Sendable (_ received: Int, _ sent: Int) -> Void) {
        traffic.withLock { $0 = sink }
    }

    func counted(received: Int, sent: Int) {
        traffic.withLock { $0 }?(received, sent)
    }
}
