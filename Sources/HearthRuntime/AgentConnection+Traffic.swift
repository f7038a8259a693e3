import Synchronization
/// Byte counts of the channel, for the operator's metrics. The runtime target knows no metrics
/// library: the control plane hands in a sink when it adopts the connection.
extension AgentConnection {
    /// The sink is held by a class, never as a bare closure in a generic `Mutex`: there, every
    /// `withLock` re-abstracted the stored closure through its `inout` (unoptimized builds wrap it in
    /// two more thunks and write it back), so each frame deepened a chain of thunks that the next
    /// frame called through. A guest's flood of a million one-byte frames made every frame cost a
    /// million calls on the event loop, then overflowed its stack: the server died of SIGSEGV.
    final class TrafficSink: Sendable {
        let count: @Sendable (_ received: Int, _ sent: Int) -> Void
        init(_ count: @escaping @Sendable (_ received: Int, _ sent: Int) -> Void) { self.count = count }
    }

    /// Calls `sink` with the bytes of every whole frame (header included) read from and written
    /// to the agent from now on. One sink per connection; a later call replaces it.
    public func countTraffic(_ sink: @escaping @Sendable (_ received: Int, _ sent: Int) -> Void) {
        let box = TrafficSink(sink)
        traffic.withLock { $0 = box }
    }

    func counted(received: Int, sent: Int) {
        traffic.withLock { $0 }?.count(received, sent)
    }
}
