import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthControlPlane
@testable import HearthServer
import HearthServerTestKit
import NIOCore
import Synchronization
import Testing

/// A keepalive timer a test fires by hand: `sleep` waits until `fire()` (or cancellation).
final class ManualStreamTimer: StreamTimer {
    private struct State {
        var next = 0
        var sleepers: [Int: CheckedContinuation<Void, any Error>] = [:]
        var cancelled: Set<Int> = []
    }
    private let state = Mutex(State())

    func sleep(for duration: Duration) async throws {
        let id = state.withLock { state in
            defer { state.next &+= 1 }
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state -> Bool in
                    if state.cancelled.remove(id) != nil { return true }
                    state.sleepers[id] = continuation
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                if let continuation = state.sleepers.removeValue(forKey: id) { return continuation }
                state.cancelled.insert(id)
                return nil
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Sleepers waiting now.
    var sleeping: Int { state.withLock { $0.sleepers.count } }

    /// Wakes every sleeper, as if the interval had passed.
    func fire() {
        let sleepers = state.withLock { state in
            defer { state.sleepers = [:] }
            return Array(state.sleepers.values)
        }
        for sleeper in sleepers { sleeper.resume() }
    }
}

/// Text gathered from a stream, read by the test while the stream runs.
final class GatheredText: Sendable {
    private let text = Mutex<[String]>([])
    func append(_ part: String) { text.withLock { $0.append(part) } }
    var parts: [String] { text.withLock { $0 } }
    var joined: String { parts.joined() }
}

/// The agent event stream's keepalives (so a proxy keeps a quiet stream open while a turn waits on
/// a slow provider) and the transcript export, streamed page by page.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AgentSessionStreamTests {
    static let keepalive = SSEKeepalive.comment

    @Test func aKeepaliveIsWrittenOnlyWhenAWholeIntervalPassedWithNothingWritten() async throws {
        let (source, input) = AsyncStream<Int>.makeStream()
        let timer = ManualStreamTimer()
        let out = GatheredText()
        let writing = Task {
            try await SSEKeepalive(interval: .seconds(15), timer: timer).write(source, frame: { "id: \($0)\n\n" }) { out.append($0) }
        }
        defer { writing.cancel() }
        try await AgentSessionFlowTests.waitUntil { timer.sleeping == 1 }
        timer.fire()
        try await AgentSessionFlowTests.waitUntil { out.parts == [Self.keepalive] }
        try await AgentSessionFlowTests.waitUntil { timer.sleeping == 1 }
        input.yield(1)
        try await AgentSessionFlowTests.waitUntil { out.parts.count == 2 }
        // An event went out in this interval: its tick writes nothing. The timer sleeps again only
        // once the tick is handled.
        timer.fire()
        try await AgentSessionFlowTests.waitUntil { timer.sleeping == 1 }
        #expect(out.parts == [Self.keepalive, "id: 1\n\n"])
        timer.fire()
        try await AgentSessionFlowTests.waitUntil { out.parts.count == 3 }
        input.yield(2)
        input.finish()
        try await writing.value
        #expect(out.parts == [Self.keepalive, "id: 1\n\n", Self.keepalive, "id: 2\n\n"])
    }

    @Test func aQuietEventStreamGetsKeepalivesThenTheNextEventWithTheNextId() async throws {
        let timer = ManualStreamTimer()
        let agents = try await AgentServer.start { $0.streamTimer = timer }
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        let last = try #require(try await agents.client.agentTranscript(session.id).events.last?.seq)
        let out = GatheredText()
        let url = agents.server.url + "/v1/agent-sessions/\(session.id)/events"
        let token = agents.server.token
        let reading = Task {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Last-Event-ID", value: String(last))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
            for try await chunk in response.body { out.append(String(buffer: chunk)) }
        }
        defer { reading.cancel() }
        for count in 1...2 {
            try await AgentSessionFlowTests.waitUntil { timer.sleeping == 1 }
            timer.fire()
            try await AgentSessionFlowTests.waitUntil { out.joined == String(repeating: Self.keepalive, count: count) }
        }
        _ = try await agents.client.sendAgentMessage(session.id, text: "hello")
        try await AgentSessionFlowTests.waitUntil { out.joined.contains("event: agent_idle") }
        let text = out.joined
        #expect(text.hasPrefix(Self.keepalive + Self.keepalive + "id: \(last + 1)\n"), "\(text.prefix(120))")
        let ids = text.split(separator: "\n").filter { $0.hasPrefix("id: ") }.compactMap { Int64($0.dropFirst(4)) }
        #expect(ids == Array((last + 1)...(last + Int64(ids.count))), "every event once, in order, after the keepalives")
    }

    @Test func theTranscriptExportIsWrittenAPageAtATimeInTheSameJSON() async throws {
        let agents = try await AgentServer.start()
        defer { Task { await agents.server.stop() } }
        try await agents.provider()
        let session = try await agents.session()
        let hub = agents.server.service.agentSessions.events
        for n in 0..<1300 { try hub.append(session.id, .status, ["status": .string("filler"), "n": .int(n)]) }
        let store = hub.store
        let record = try #require(try store.session(session.id))
        var chunks: [ByteBuffer] = []
        try await AgentTranscriptExport.write(store, record, format: .json) { chunks.append($0) }
        let events = try store.events(session.id, after: 0, limit: 100_000)
        #expect(events.count == 1301)
        // Head, three pages, tail: no buffer holds the whole transcript.
        #expect(chunks.count == 5)
        let total = chunks.reduce(0) { $0 + $1.readableBytes }
        #expect(chunks.allSatisfy { $0.readableBytes < total / 2 })
        var joined = ByteBuffer()
        for var chunk in chunks { joined.writeBuffer(&chunk) }
        let whole = try API.encoder().encode(API.AgentTranscript(session: AgentSessionRoutes.body(record), events: events.map(AgentSessionRoutes.body)))
        #expect(Array(joined.readableBytesView) == Array(whole), "the same bytes the whole-object encoding gives")

        var markdown: [ByteBuffer] = []
        try await AgentTranscriptExport.write(store, record, format: .md) { markdown.append($0) }
        #expect(markdown.count == 4)
        // Over HTTP, both formats still read back whole.
        let fetched = try await agents.client.agentTranscript(session.id)
        #expect(fetched.events.map(\.seq) == Array(1...1301))
        let md = try await agents.client.agentTranscriptMarkdown(session.id)
        #expect(md.hasPrefix("# Agent session \(session.id)"))
    }
}
