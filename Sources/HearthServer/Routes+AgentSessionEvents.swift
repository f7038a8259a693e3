import Foundation
import HearthControlPlane
import HearthCore
import HearthIdentity
import Hummingbird
import Logging

/// `GET /v1/agent-sessions/{id}/events`: Server-Sent Events. Each event's `id:` is its stored
/// sequence number; a client resumes with `Last-Event-ID` (or `?after=`) and gets the stored
/// events after it, then the live tail, each once and in order. A client that falls more than the
/// reader queue behind has its connection closed: it reconnects from its last id, never misses.
/// A stream with nothing to say gets a `: keepalive` comment every quiet `keepalive` interval.
/// Each open stream holds a reader queue in the hub, so they are bounded like the port streams:
/// `maxStreams` per server, of which a tenant holds at most `maxStreamsPerTenant` and a user
/// `maxStreamsPerUser`.
struct AgentSessionEventStream {
    static let maxStreams = 512
    static let maxStreamsPerTenant = 128
    static let maxStreamsPerUser = 32

    let sessions: AgentSessionManager
    let keepalive: SSEKeepalive
    let streams = StreamShares(limit: AgentSessionEventStream.maxStreams, perTenant: AgentSessionEventStream.maxStreamsPerTenant,
                               perUser: AgentSessionEventStream.maxStreamsPerUser)

    func register(on group: RouterGroup<HearthContext>) {
        let (sessions, keepalive, streams) = (self.sessions, self.keepalive, self.streams)
        group.get("agent-sessions/:id/events") { request, context in
            let id = try context.parameters.require("id")
            let caller = try context.caller()
            _ = try await sessions.get(id, tenantId: caller.tenantId)
            let after = try Self.cursor(header: request.headers[AgentSessionRoutes.lastEventID],
                                        query: request.uri.queryParameters.get("after").map { String($0) })
            let lease: StreamLease
            do throws(StreamShares.Refused) {
                lease = try StreamLease(streams, StreamShares.Holder(tenant: caller.tenantId, user: caller.userId))
            } catch {
                context.logger.notice("agent event stream refused", metadata: ["agent.session": "\(id)", "limit": "\(error.limit.rawValue)"])
                throw HearthError(.rateLimited, "too many agent event streams are open; try again later", detail: "retry-after=5 limit=\(error.limit.rawValue)")
            }
            let channel = context.channel
            let logger = context.logger
            let subscription = sessions.events.subscribe(id, after: after) {
                logger.notice("agent event stream closed: client too slow", metadata: ["agent.session": "\(id)"])
                channel.close(promise: nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: ResponseBody { writer in
                defer { withExtendedLifetime(lease) {} }
                do {
                    try await keepalive.write(subscription, frame: { Self.frame($0) }) { text in
                        try await writer.write(ByteBuffer(string: text))
                    }
                } catch is AgentReaderTooSlow {
                    channel.close(promise: nil)
                    throw HearthError(.rateLimited, "the client reads too slowly")
                }
                try await writer.finish(nil)
            })
        }
    }

    /// One SSE frame. The data is a JSON object on one line (JSON escapes newlines), so it
    /// cannot end the frame early or forge a field.
    static func frame(_ event: AgentEvent) -> String {
        "id: \(event.seq)\nevent: \(event.type.rawValue)\ndata: \(event.data)\n\n"
    }

    /// Where to resume: the `Last-Event-ID` header (or `after` query) as a sequence number.
    /// Absent or empty is the start; anything but 1 to 19 ASCII digits fitting Int64 is refused.
    static func cursor(header: String?, query: String?) throws -> Int64 {
        guard let text = header ?? query, !text.isEmpty else { return 0 }
        guard let value = AgentEventCursor.parse(text) else {
            throw HearthError(.invalidArgument, "Last-Event-ID must be a decimal event number")
        }
        return value
    }

}
