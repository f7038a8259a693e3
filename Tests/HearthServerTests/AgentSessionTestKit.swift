import Foundation
import HearthAPI
import HearthClient
import HearthControlPlane
import HearthHost
import HearthServer
import HearthServerTestKit
import Logging
import Synchronization

/// A gate a scripted turn waits at until the test opens it.
final class TurnGate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { continuation in
            let resume = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resume { continuation.resume() }
        }
    }
    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A turn driver that plays a script chosen by the user's last message, writing through the
/// hub exactly as the real loop does: deltas, a tool call, its result, usage.
struct ScriptedTurnDriver: AgentTurnDriver {
    let gate: TurnGate

    func runTurn(_ session: AgentSessionRecord, events: AgentEventHub) async throws -> AgentTurnOutcome {
        let stored = try events.store.events(session.id, after: 0, limit: 100_000)
        let last = stored.last { $0.type == .message && $0.data.contains(#""role":"user""#) }
        let text = last.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.data.utf8))) as? [String: Any] }?["text"] as? String ?? ""
        switch text {
        case "tool":
            try events.appendDelta(session.id, .thinking, "I should list the files.")
            for word in ["Let ", "me ", "look."] { try events.appendDelta(session.id, .message, word) }
            try events.endDelta(session.id)
            let call = "call_\(stored.count)"
            try events.append(session.id, .toolCall, ["id": .string(call), "name": .string("bash"), "arguments": .string(#"{"command":"ls"}"#)])
            await gate.wait()
            try Task.checkCancellation()
            try events.append(session.id, .toolResult, ["id": .string(call), "name": .string("bash"), "content": .string("a.txt\n"), "is_error": .bool(false)])
            for word in ["There ", "is ", "a.txt."] { try events.appendDelta(session.id, .message, word) }
            try events.endDelta(session.id)
            try events.append(session.id, .usage, ["input_tokens": .int(10), "output_tokens": .int(5)])
            return .completed
        case "slow":
            while true {
                try events.appendDelta(session.id, .message, "tick ")
                try await Task.sleep(for: .milliseconds(5))
            }
        default:
            for word in ["Hello ", "there."] { try events.appendDelta(session.id, .message, word) }
            try events.endDelta(session.id)
            return .completed
        }
    }
}

/// Load a test sets: memory pressure as a fraction.
final class TestLoad: Sendable {
    let pressure = Mutex<Double>(0.2)
    func read() -> SystemLoad {
        let total: UInt64 = 1 << 34
        let used = UInt64(Double(total) * pressure.withLock { $0 })
        return SystemLoad(memoryTotalBytes: total, memoryAvailableBytes: total - used, load1: 0.5)
    }
}

struct AgentServer {
    let server: LiveServer
    let gate: TurnGate
    let clock: ManualAgentClock
    let load: TestLoad
    let logs: LogCapture
    static let providerKey = "sk-hearth-canary-" + UUID().uuidString

    static func start(data: String? = nil, gate: TurnGate = TurnGate(), clock: ManualAgentClock = ManualAgentClock(Date()),
                      load: TestLoad = TestLoad(), logs: LogCapture = LogCapture(), queueLimit: Int = 1024,
                      providerHostsAllowed: [String] = ["127.0.0.0/8"], durable: Bool = false,
                      configure: (inout AgentSessionOptions) -> Void = { _ in }) async throws -> AgentServer {
        let data = data ?? ProcessHost.scratchDirectory("hearth-agents")
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        if durable {
            // The server's own store, as `hearth serve` has by default; interval commits off, so
            // the generations a test sees are the ones its steps made.
            configuration.commitInterval = nil
            configuration.workspaceVolumes = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:],
                                                                         logger: ProcessHost.quietLogger)
        }
        configuration.agents.driver = { _ in ScriptedTurnDriver(gate: gate) }
        configuration.agents.clock = clock
        configuration.agents.systemLoad = { load.read() }
        configuration.agents.readerQueueLimit = queueLimit
        configuration.agents.sweepEvery = .seconds(3600)
        // The scripted provider record names loopback, which only an operator's allowance permits.
        configuration.agents.providerHostsAllowed = providerHostsAllowed
        // Last, so a test may take the scripted driver away (the server's own loop) or change limits.
        configure(&configuration.agents)
        let server = try await LiveServer.serveInProcess(configuration, logger: logs.logger())
        return AgentServer(server: server, gate: gate, clock: clock, load: load, logs: logs)
    }

    var client: HearthClient { server.client }

    func provider() async throws {
        _ = try await client.setAgentProvider("local", API.AgentProviderBody(kind: "openai", base_url: "http://127.0.0.1:9/v1", api_key: Self.providerKey))
    }

    func session(workspace: String? = nil, onIdle: String? = nil, idle: Int? = nil) async throws -> API.AgentSessionBody {
        try await client.createAgentSession(API.CreateAgentSessionBody(provider: "local", model: "m", workspace: workspace,
                                                                       new_workspace: workspace == nil ? API.CreateWorkspaceBody() : nil,
                                                                       system_prompt: "be brief", idle_timeout_seconds: idle, on_idle: onIdle))
    }

    /// Reads the event stream after `after` until `stop` says so; fails after `deadline`.
    func events(_ id: String, after: Int64 = 0, deadline: Duration = .seconds(20),
                until stop: @escaping @Sendable (API.AgentEventBody) -> Bool) async throws -> [API.AgentEventBody] {
        let client = self.client
        return try await withThrowingTaskGroup(of: [API.AgentEventBody]?.self) { group in
            group.addTask {
                var seen: [API.AgentEventBody] = []
                try await client.agentEvents(id, after: after) { event in
                    seen.append(event)
                    return !stop(event)
                }
                return seen
            }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let seen = try await group.next(), let seen else { throw DeadlinePassed() }
            return seen
        }
    }

    struct DeadlinePassed: Error {}
}

extension API.AgentEventBody {
    var fields: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
    var isTurnEnd: Bool { type == "agent_idle" }
}
