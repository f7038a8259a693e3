import AsyncHTTPClient
import Foundation
import HearthAgentCore
import HearthAgents
import HearthLLMTestKit
import HearthProviders
import HearthScrub
import Testing

/// A local tool runner: records the calls and answers with a fixed output (which may hold secrets).
final class LocalToolRunner: ToolRunner, @unchecked Sendable {
    let tools: [ToolSpec]
    let output: String
    private let lock = NSLock()
    private var seen: [ToolCall] = []
    var calls: [ToolCall] { lock.withLock { seen } }

    init(commandEnum: [String]? = nil, output: String = "README.md\nPackage.swift\n") {
        let command = commandEnum.map { #"{"type":"string","enum":["# + $0.map { "\"\($0)\"" }.joined(separator: ",") + "]}" } ?? #"{"type":"string"}"#
        tools = [ToolSpec(name: "bash", description: "Run a shell command in the workspace",
                          parametersSchemaJSON: #"{"type":"object","properties":{"command":"# + command + #"},"required":["command"]}"#)]
        self.output = output
    }

    func run(_ call: ToolCall) async -> ToolOutcome {
        lock.withLock { seen.append(call) }
        return ToolOutcome(content: output, exitCode: 0)
    }
}

/// Forwards to the real provider and records every request the loop sent (what left the host).
final class RecordingProvider: ChatProvider, @unchecked Sendable {
    let inner: any ChatProvider
    private let lock = NSLock()
    private var sent: [ProviderRequest] = []
    var requests: [ProviderRequest] { lock.withLock { sent } }
    init(_ inner: any ChatProvider) { self.inner = inner }
    func stream(_ request: ProviderRequest) async throws -> AsyncThrowingStream<ProviderEvent, any Error> {
        lock.withLock { sent.append(request) }
        return try await inner.stream(request)
    }
    func models() async throws -> [ModelInfo] { try await inner.models() }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [AgentLoopEvent] = []
    var events: [AgentLoopEvent] { lock.withLock { all } }
    func add(_ event: AgentLoopEvent) { lock.withLock { all.append(event) } }
}

enum Wire: String, CaseIterable, Sendable { case openAI, anthropic }

func withProvider<T>(_ wire: Wire, retry: RetryPolicy = RetryPolicy(), toolForcing: Bool = true,
                     _ body: (LlamaTestServer, any ChatProvider) async throws -> T) async throws -> T {
    try await LlamaTestServer.withServer(toolForcing: toolForcing) { server in
        let client = Providers.makeHTTPClient()
        do {
            let key = ProviderKey(server.apiKey)
            let provider: any ChatProvider = switch wire {
            case .openAI: try OpenAIChatProvider(endpoint: ProviderEndpoint(baseURL: server.openAIBaseURL, key: key, retry: retry), client: client)
            case .anthropic: try AnthropicMessagesProvider(endpoint: ProviderEndpoint(baseURL: server.anthropicBaseURL, key: key, retry: retry), client: client)
            }
            let result = try await body(server, provider)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

func configuration(_ budget: AgentBudget, toolChoice: ToolChoice = .required) -> AgentLoopConfiguration {
    // The test server's forcing bias cannot honour tool_choice none: the final step offers no tools.
    AgentLoopConfiguration(model: LlamaTestServer.model, budget: budget, toolChoice: toolChoice, finalStep: .withoutTools,
                           maxTokens: 40, temperature: 0)
}

@Suite(.serialized, .enabled(if: LlamaTestServer.shouldRun, "the test LLM cache is not installed"))
struct AgentLoopLiveTests {
    /// Forced calls run through the tool runner and their results go back; when the step budget runs
    /// out the last call is made with tool_choice none and answers in text.
    @Test(arguments: Wire.allCases) func forcedToolCallsRunAndTheStepBudgetEndsWithAFinalStepWithoutTools(wire: Wire) async throws {
        try await withProvider(wire) { _, provider in
            let recorder = RecordingProvider(provider)
            // One allowed command keeps the call short: a call cut off by max_tokens makes llama-server answer 500.
            let runner = LocalToolRunner(commandEnum: ["ls"])
            let log = EventLog()
            // The model may repeat a call (even twice in one response): the identical-call guard is
            // set out of the way here and tested on its own below.
            let loop = AgentLoop(provider: recorder, tools: runner, configuration: configuration(AgentBudget(maxStepsPerTurn: 2, maxIdenticalCalls: 100)))
            var scrubber = ScrubSession()
            let result = await loop.runTurn(history: [], prompt: "List the files in the current directory.", usage: TokenUsage(),
                                            scrubber: &scrubber) { log.add($0) }
            #expect(result.outcome == .stepLimit)
            #expect(result.steps == 3)
            #expect(runner.calls.count >= 2)
            #expect(recorder.requests.map(\.toolChoice) == [.required, .required, .none])
            #expect(recorder.requests.map(\.tools.count) == [1, 1, 0])
            // The second request carries the first call and its result.
            let second = try #require(recorder.requests.dropFirst().first)
            #expect(second.messages.count == 3)
            #expect(second.messages[2].content.allSatisfy { if case .toolResult(_, "README.md\nPackage.swift\n", false) = $0 { true } else { false } })
            let events = log.events
            #expect(events.filter { if case .toolCall = $0 { true } else { false } }.count == runner.calls.count)
            #expect(events.filter { if case .toolResult = $0 { true } else { false } }.count == runner.calls.count)
            #expect(events.contains(.status("final_step:step_limit")))
            #expect(events.last == .finished(.stepLimit, steps: 3))
            #expect(result.usage.total > 0)
            // Concatenating the message events gives the conversation.
            let messages = events.compactMap { if case .message(let m) = $0 { m } else { nil } }
            #expect(messages == result.appended)
            #expect(messages.last?.toolCalls.isEmpty == true)
        }
    }

    /// A schema with one allowed value makes the server write the same call every time: the third
    /// identical call in a row is not run and the turn ends loop_detected.
    @Test(arguments: Wire.allCases) func threeIdenticalCallsInARowEndTheTurn(wire: Wire) async throws {
        try await withProvider(wire) { _, provider in
            let runner = LocalToolRunner(commandEnum: ["ls"])
            let log = EventLog()
            let loop = AgentLoop(provider: provider, tools: runner, configuration: configuration(AgentBudget(maxStepsPerTurn: 10, maxIdenticalCalls: 3)))
            var scrubber = ScrubSession()
            let result = await loop.runTurn(history: [], prompt: "List the files.", usage: TokenUsage(), scrubber: &scrubber) { log.add($0) }
            #expect(result.outcome == .loopDetected)
            #expect(result.steps <= 3)
            // The third identical call in a row was not run, whether it came in its own response or not.
            #expect(runner.calls.count == 2)
            #expect(log.events.contains(.status("loop_detected")))
            // Every call still has a result, so the history stays valid for the next turn.
            let calls = result.appended.flatMap(\.toolCalls).map(\.id)
            let answered = result.appended.flatMap(\.content).compactMap { if case .toolResult(let id, _, _) = $0 { id } else { nil } }
            #expect(calls == answered)
        }
    }

    /// The budget is checked before each call: a session already past its token cap gets one final
    /// call without tools, and the turn ends budget_exceeded.
    @Test(arguments: Wire.allCases) func anExhaustedTokenBudgetGivesOneFinalStepWithoutTools(wire: Wire) async throws {
        try await withProvider(wire) { _, provider in
            let recorder = RecordingProvider(provider)
            let runner = LocalToolRunner(commandEnum: ["ls"])
            let loop = AgentLoop(provider: recorder, tools: runner, configuration: configuration(AgentBudget(maxIdenticalCalls: 100, maxTotalTokens: 1)))
            var scrubber = ScrubSession()
            let log = EventLog()
            let result = await loop.runTurn(history: [], prompt: "List the files.", usage: TokenUsage(), scrubber: &scrubber) { log.add($0) }
            // Step 1 had budget (0 used) and called the tool; step 2 found it spent.
            #expect(result.outcome == .budgetExceeded)
            #expect(recorder.requests.map(\.toolChoice) == [.required, .none])
            #expect(runner.calls.count >= 1)
            #expect(log.events.contains(.status("final_step:budget_exceeded")))
        }
    }

    /// Secrets in the prompt and in a tool output reach the provider replaced by stable markers, and
    /// each hit is a scrub event naming the rule, never the value.
    @Test func promptsAndToolOutputsAreScrubbedBeforeTheyLeave() async throws {
        let awsKey = "AKIAQYLPMN5HHHFPZAM2"
        let githubToken = "ghp_" + "R9xT2mK8pL4vN7qW3zY6bC1dF5gH0jA2sE4u"
        try await withProvider(.openAI) { _, provider in
            let recorder = RecordingProvider(provider)
            let runner = LocalToolRunner(commandEnum: ["ls"], output: "token=\(githubToken)\nkey \(awsKey)\n")
            let log = EventLog()
            let loop = AgentLoop(provider: recorder, tools: runner, configuration: configuration(AgentBudget(maxStepsPerTurn: 1, maxIdenticalCalls: 100)))
            var scrubber = ScrubSession()
            let result = await loop.runTurn(history: [], prompt: "My key is \(awsKey). List the files.", usage: TokenUsage(),
                                            scrubber: &scrubber) { log.add($0) }
            #expect(result.outcome == .stepLimit, "\(log.events.filter { if case .error = $0 { true } else { false } })")
            let sent = recorder.requests.map { String(describing: $0) }.joined()
            #expect(!sent.contains(awsKey))
            #expect(!sent.contains(githubToken))
            #expect(sent.contains("‹REDACTED:aws_access_key:1›"))
            #expect(sent.contains("‹REDACTED:github_token:1›"))
            let scrubs = log.events.compactMap { if case .scrub(let rule, let target, let count) = $0 { "\(target.rawValue):\(rule):\(count)" } else { nil } }
            #expect(scrubs.contains("prompt:aws_access_key:1"))
            #expect(scrubs.contains("tool_output:aws_access_key:1"))
            #expect(scrubs.contains("tool_output:github_token:1"))
            #expect(!String(describing: log.events).contains(awsKey))
        }
    }

    @Test(arguments: Wire.allCases) func aProviderErrorEndsTheTurnWithAnErrorEvent(wire: Wire) async throws {
        try await withProvider(wire, retry: .none) { _, provider in
            let log = EventLog()
            let loop = AgentLoop(provider: provider, tools: LocalToolRunner(), configuration: configuration(AgentBudget(), toolChoice: .auto))
            var scrubber = ScrubSession()
            let result = await loop.runTurn(history: [], prompt: "List the files.", usage: TokenUsage(), scrubber: &scrubber) { log.add($0) }
            #expect(result.outcome == .failed)
            #expect(log.events.contains { if case .error(let f) = $0 { f.httpStatus == 500 } else { false } })
            #expect(log.events.last == .finished(.failed, steps: 1))
        }
    }

    /// Cancelling the turn mid-stream ends it `cancelled` within 1 s and the server stops generating.
    /// (A plain server: the tool-forcing one never answers `auto` with text.)
    @Test(arguments: Wire.allCases) func cancelMidStreamEndsTheTurnCancelledWithinASecond(wire: Wire) async throws {
        try await withProvider(wire, toolForcing: false) { server, provider in
            let log = EventLog()
            let firstDelta = AsyncStream<Void>.makeStream()
            let loop = AgentLoop(provider: provider, tools: LocalToolRunner(),
                                 configuration: AgentLoopConfiguration(model: LlamaTestServer.model, maxTokens: 2000, temperature: 0.8))
            let turn = Task {
                var scrubber = ScrubSession()
                let result = await loop.runTurn(history: [], prompt: "Write a very long story about a lighthouse keeper.", usage: TokenUsage(),
                                                scrubber: &scrubber) { event in
                    log.add(event)
                    if case .textDelta = event { firstDelta.continuation.yield() }
                }
                firstDelta.continuation.finish()
                return result
            }
            var iterator = firstDelta.stream.makeAsyncIterator()
            guard await iterator.next() != nil else {
                Issue.record("the turn ended before any text: \(log.events)")
                return
            }
            let cancelledAt = ContinuousClock.now
            turn.cancel()
            let result = await turn.value
            #expect(ContinuousClock.now - cancelledAt < .seconds(1))
            #expect(result.outcome == .cancelled)
            #expect(log.events.last == .finished(.cancelled, steps: 1))
            // The partial answer is kept as the assistant's message.
            #expect(result.appended.last?.role == .assistant)
            let deadline = ContinuousClock.now + .seconds(10)
            while try await server.isProcessing(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await !server.isProcessing())
        }
    }
}
