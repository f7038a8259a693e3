import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthIdentity
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// `GET /v1/workspaces/{ws}/ports/events`: Server-Sent Events for the IDE's ports panel, so the
/// page stops polling. The server asks the agent every `interval` and sends an `event: ports`
/// only when the set changes (the first one at once). Bounded: one pending event per stream
/// (the writer waits for the client, and nothing is queued while it waits), a comment every
/// `keepalive` so a vanished client is noticed, each stream ends after `lifetime` (EventSource
/// reconnects by itself), and at most `maxStreams` streams per server, of which one tenant holds at
/// most `maxStreamsPerTenant` and one user `maxStreamsPerUser` (each page holds one), so a single
/// credential cannot take every stream from everyone else.
struct PortEventRoutes {
    static let interval: Duration = .seconds(2)
    static let keepalive: Duration = .seconds(15)
    static let lifetime: Duration = .seconds(600)
    static let maxStreams = 256
    static let maxStreamsPerTenant = 64
    static let maxStreamsPerUser = 16

    let manager: WorkspaceManager
    let logger: Logger
    let streams = StreamShares(limit: PortEventRoutes.maxStreams, perTenant: PortEventRoutes.maxStreamsPerTenant,
                               perUser: PortEventRoutes.maxStreamsPerUser)

    func register(on group: RouterGroup<HearthContext>) {
        group.get("workspaces/:ws/ports/events") { _, context in
            let workspace = try await context.workspace(manager)
            let ref = workspace.id
            let caller = try context.caller()
            let lease: StreamLease
            do throws(StreamShares.Refused) {
                lease = try StreamLease(streams, StreamShares.Holder(tenant: caller.tenantId, user: caller.userId))
            } catch {
                logger.notice("port event stream refused", metadata: ["workspace.id": .string(ref), "limit": .string(error.limit.rawValue)])
                throw HearthError(.rateLimited, "too many port watchers are open; try again later", detail: "retry-after=5 limit=\(error.limit.rawValue)")
            }
            logger.debug("port event stream opened", metadata: ["workspace.id": .string(ref)])
            let (manager, logger) = (self.manager, self.logger)
            let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                defer {
                    withExtendedLifetime(lease) {}
                    logger.debug("port event stream closed", metadata: ["workspace.id": .string(ref)])
                }
                let clock = ContinuousClock()
                let end = clock.now.advanced(by: Self.lifetime)
                var lastSent: String?
                var lastWrite = clock.now
                var id = 0
                // The client reconnects after this many milliseconds if the stream ends.
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                while clock.now < end {
                    // The workspace is gone: nothing more to say.
                    guard let event = await Self.portsEvent(manager, workspace) else { break }
                    if event != lastSent {
                        id &+= 1
                        try await writer.write(ByteBuffer(string: "event: ports\nid: \(id)\ndata: \(event)\n\n"))
                        lastSent = event
                        lastWrite = clock.now
                    } else if clock.now - lastWrite >= Self.keepalive {
                        try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
                        lastWrite = clock.now
                    }
                    try await Task.sleep(for: Self.interval)
                }
                try await writer.finish(nil)
            })
        }
    }

    /// The port list as one line of JSON, or `{"unavailable":"…"}` while the agent cannot say
    /// (the workspace is paused, say): the page keeps its own view of the state. Nil once the
    /// workspace no longer exists.
    static func portsEvent(_ manager: WorkspaceManager, _ workspace: ResolvedWorkspace) async -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        do {
            let ports = try await manager.agent(for: workspace, notingUse: false).ports()
            let list = API.PortList(ports: ports.map { API.Port(port: $0.port, address: $0.address, family: $0.family) }
                .sorted { ($0.port, $0.address) < ($1.port, $1.address) })
            return String(decoding: try encoder.encode(list), as: UTF8.self)
        } catch {
            let refusal = HearthError.from(error)
            if refusal.code == .notFound, (try? await manager.resolveWorkspace(granted: workspace.id)) == nil { return nil }
            return String(decoding: (try? encoder.encode(["unavailable": refusal.message])) ?? Data(#"{"unavailable":""}"#.utf8), as: UTF8.self)
        }
    }
}

