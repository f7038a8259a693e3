import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthServerTestKit
import Synchronization
import Testing

/// Events per second that one session's stream carries to 10 SSE listeners over real HTTP, with an
/// 11th listener that never reads: the server drops it once its queue is full, so memory stays
/// bounded. A benchmark, not a test: it runs only with `HEARTH_BENCH_EVENTS=N` (events appended)
/// and prints one JSON line. Debug build, in-process server (see BENCHMARKS.md).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["HEARTH_BENCH_EVENTS"] != nil))
struct AgentEventFanoutBenchmark {
    /// The last event each listener has seen.
    final class Progress: Sendable {
        private let seen: Mutex<[Int64]>
        init(listeners: Int) { seen = Mutex(Array(repeating: 0, count: listeners)) }
        func saw(_ seq: Int64, listener: Int) { seen.withLock { $0[listener] = seq } }
        var slowest: Int64 { seen.withLock { $0.min() ?? 0 } }
    }

    final class StartTime: Sendable {
        private let instant = Mutex<ContinuousClock.Instant?>(nil)
        var value: ContinuousClock.Instant? {
            get { instant.withLock { $0 } }
            set { instant.withLock { $0 = newValue } }
        }
    }

    static func residentKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    @Test func eventsPerSecondToTenListenersWithASlowOne() async throws {
        let count = Int(ProcessInfo.processInfo.environment["HEARTH_BENCH_EVENTS"] ?? "") ?? 20_000
        let agents = try await AgentServer.start(queueLimit: 1024)
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        // Ten streams at once: more than the shared client's pool allows a host.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await Self.measure(agents: agents, session: session.id, count: count, http: http)
        } catch {
            try await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    static func measure(agents: AgentServer, session id: String, count: Int, http: HTTPClient) async throws {
        let hub = agents.server.service.agentSessions.events
        let base = try hub.store.lastSeq(id)
        let target = base + Int64(count)
        // The slow listener: it asks for the stream and never reads a byte of it.
        let slow = try await RawSocket.connect(agents.server.url)
        defer { slow.close() }
        // A small receive window, as a stalled client on a real network has (loopback's would grow
        // to 32 MiB here and hold the whole run).
        var small: Int32 = 64 << 10
        _ = setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        slow.send("GET /v1/agent-sessions/\(id)/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(agents.server.token)\r\nAccept: text/event-stream\r\nLast-Event-ID: \(base)\r\n\r\n")
        let before = Self.residentKiB()
        let listener = HearthClient(baseURL: agents.server.url, token: agents.server.token, http: http)
        let clock = ContinuousClock()
        let started = StartTime()
        let appended = StartTime()
        let progress = Progress(listeners: 10)
        let durations = try await withThrowingTaskGroup(of: Duration.self) { group in
            for index in 0..<10 {
                group.addTask {
                    try await listener.agentEvents(id, after: base) { event in
                        progress.saw(event.seq, listener: index)
                        return event.seq < target
                    }
                    return clock.now - (started.value ?? clock.now)
                }
            }
            group.addTask {
                // Every listener is connected (its stream open) before the first event.
                try await AgentSessionFlowTests.waitUntil { hub.readerCount(id) >= 11 }
                started.value = clock.now
                // 1 KiB an event (a batch of deltas is up to 512 bytes, a tool output up to 64 KiB),
                // so the one that never reads fills its socket buffers and then its queue. Bursts of
                // 256, each sent once every listener that reads has the last: what the stream
                // carries, not how far a producer can outrun its readers (past 1,024 queued events
                // a reader is dropped, as the one that never reads is).
                let padding = String(repeating: "x", count: 1000)
                var sent = 0
                while sent < count {
                    var last: Int64 = 0
                    for _ in 0..<min(256, count - sent) {
                        last = try hub.append(id, .status, ["status": .string("bench \(sent) " + padding)]).seq
                        sent += 1
                    }
                    try await AgentSessionFlowTests.waitUntil(deadline: .seconds(60)) { progress.slowest >= last }
                }
                appended.value = clock.now
                return .zero
            }
            var all: [Duration] = []
            for try await d in group where d != .zero { all.append(d) }
            return all
        }
        let after = Self.residentKiB()
        // The one that never read was dropped when its queue filled (the hub says so in its log);
        // the ten that read never were.
        let drops = agents.logs.all.filter { $0.text.contains("agent event reader dropped") }.count
        let dropped = drops == 1
        let slowest = durations.max() ?? .zero
        let seconds = Double(slowest.components.seconds) + Double(slowest.components.attoseconds) / 1e18
        let line: [String: Any] = ["figure": "agent_events_to_10_listeners_per_s", "events": count, "event_bytes": 1024, "listeners": 10, "burst": 256,
                                   "events_per_s_each": Int(Double(count) / seconds), "deliveries_per_s": Int(Double(count * 10) / seconds),
                                   "readers_dropped": drops, "rss_growth_kib": after - before]
        print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
        #expect(dropped, "\(drops) readers dropped: only the one that never reads should be")
    }
}
