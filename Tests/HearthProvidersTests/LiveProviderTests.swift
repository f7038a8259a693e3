import AsyncHTTPClient
import Foundation
import HearthAgentCore
import HearthLLMTestKit
import HearthProviders
import Synchronization
import Testing

/// Records the waits a retry asked for and returns at once.
final class RecordingClock: ProviderClock, @unchecked Sendable {
    private let lock = NSLock()
    private var waits: [Duration] = []
    var recorded: [Duration] { lock.withLock { waits } }
    func now() -> Date { Date() }
    func sleep(for duration: Duration) async throws { lock.withLock { waits.append(duration) } }
}

enum Wire: String, CaseIterable, Sendable { case openAI, anthropic }

extension LlamaTestServer {
    func provider(_ wire: Wire, key: String? = nil, client: HTTPClient, clock: any ProviderClock = SystemProviderClock(),
                  retry: RetryPolicy = RetryPolicy()) throws -> any ChatProvider {
        let key = ProviderKey(key ?? apiKey)
        switch wire {
        case .openAI: return try OpenAIChatProvider(endpoint: ProviderEndpoint(baseURL: openAIBaseURL, key: key, retry: retry), client: client, clock: clock)
        case .anthropic: return try AnthropicMessagesProvider(endpoint: ProviderEndpoint(baseURL: anthropicBaseURL, key: key, retry: retry), client: client, clock: clock)
        }
    }
}

let bashTool = ToolSpec(name: "bash", description: "Run a shell command",
                        parametersSchemaJSON: #"{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}"#)

func collect(_ stream: AsyncThrowingStream<ProviderEvent, any Error>) async throws -> [ProviderEvent] {
    var events: [ProviderEvent] = []
    for try await event in stream { events.append(event) }
    return events
}

func withClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
    let client = Providers.makeHTTPClient()
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Both wire formats against the real llama-server (SmolLM2-135M), one server for the suite's tests.
@Suite(.serialized, .enabled(if: LlamaTestServer.shouldRun, "the test LLM cache is not installed"))
struct LiveProviderTests {
    @Test(arguments: Wire.allCases) func aTextTurnStreamsTextUsageAndItsFinalFrame(wire: Wire) async throws {
        try await LlamaTestServer.withServer { server in
            try await withClient { client in
                let provider = try server.provider(wire, client: client)
                let events = try await collect(try await provider.stream(ProviderRequest(
                    model: LlamaTestServer.model, system: "Answer in one short sentence.",
                    messages: [.user("What is the capital of France?")], maxTokens: 16, temperature: 0)))
                let text = events.compactMap { if case .textDelta(let t) = $0 { t } else { nil } }.joined()
                #expect(!text.isEmpty)
                #expect(events.contains { if case .usage(let i, _) = $0 { i > 0 } else { false } })
                let last = try #require(events.last)
                #expect(last == .finished(.endTurn) || last == .finished(.maxTokens))
            }
        }
    }

    @Test(arguments: Wire.allCases) func aForcedToolCallArrivesAsFragmentsOfValidJSON(wire: Wire) async throws {
        try await LlamaTestServer.withServer { server in
            try await withClient { client in
                let provider = try server.provider(wire, client: client)
                let events = try await collect(try await provider.stream(ProviderRequest(
                    model: LlamaTestServer.model, messages: [.user("List the files in the current directory.")],
                    tools: [bashTool], toolChoice: .required, maxTokens: 48, temperature: 0,
                    extraFieldsJSON: wire == .openAI ? #"{"parallel_tool_calls":false,"logit_bias":{"39428":10}}"# : nil)))
                let started = events.compactMap { if case .toolCallStarted(let index, let id, let name) = $0 { (index, id, name) } else { nil } }
                // The small model may make the call more than once in one answer (Anthropic's format
                // has no way to ask for one call): the protocol, not the model's restraint, is checked.
                #expect(started.count >= 1)
                #expect(Set(started.map(\.0)).count == started.count, "each call has its own index")
                #expect(started.first?.2 == "bash")
                #expect(started.first.map { !$0.1.isEmpty } == true)
                let index = try #require(started.first?.0)
                let arguments = events.compactMap { if case .toolCallArgumentsDelta(index, let f) = $0 { f } else { nil } }.joined()
                let object = try JSONSerialization.jsonObject(with: Data(arguments.utf8)) as? [String: Any]
                #expect(object?["command"] is String)
                // One call ends the answer with tool_use; several can run out of tokens first.
                #expect(events.last == .finished(.toolUse) || (started.count > 1 && events.last == .finished(.maxTokens)), "\(String(describing: events.last))")
            }
        }
    }

    /// A tool result goes back in each format's history shape, and the server accepts it.
    @Test(arguments: Wire.allCases) func aToolResultGoesBackAndTheModelAnswers(wire: Wire) async throws {
        try await LlamaTestServer.withServer { server in
            try await withClient { client in
                let provider = try server.provider(wire, client: client)
                let history: [ChatMessage] = [
                    .user("List the files."),
                    ChatMessage(role: .assistant, content: [.toolUse(id: "call_7", name: "bash", argumentsJSON: #"{"command":"ls"}"#)]),
                    ChatMessage(role: .user, content: [.toolResult(id: "call_7", content: "README.md\nPackage.swift\n", isError: false)]),
                ]
                // No tools offered: with the server-wide forcing bias, tool_choice none fails (see the notes).
                let events = try await collect(try await provider.stream(ProviderRequest(
                    model: LlamaTestServer.model, messages: history, maxTokens: 16, temperature: 0)))
                #expect(events.contains { if case .textDelta = $0 { true } else { false } })
                #expect(events.last.map { if case .finished = $0 { true } else { false } } == true)
            }
        }
    }

    /// `tool_choice: auto` with the forcing bias makes llama-server fail mid-stream: HTTP 200, then an
    /// error frame (OpenAI `{"error":…}`, Anthropic `event: error`). It is terminal, carries the
    /// provider's status and message, and is not retried (the stream had started).
    @Test(arguments: Wire.allCases) func anErrorFrameInsideA200StreamIsTerminalAndNotRetried(wire: Wire) async throws {
        try await LlamaTestServer.withServer { server in
            try await withClient { client in
                let clock = RecordingClock()
                let provider = try server.provider(wire, client: client, clock: clock,
                                                   retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(100)))
                do {
                    _ = try await collect(try await provider.stream(ProviderRequest(
                        model: LlamaTestServer.model, messages: [.user("List the files.")], tools: [bashTool],
                        toolChoice: .auto, maxTokens: 32, temperature: 0)))
                    Issue.record("expected a provider error")
                } catch let failure as ProviderFailure {
                    #expect(failure.kind == .stream)
                    #expect(failure.httpStatus == 500)
                    #expect(failure.message.contains("peg-native"))
                }
                #expect(clock.recorded.isEmpty)
            }
        }
    }

    /// A provider that cannot be reached is retried with backoff on the injected clock, then reported.
    @Test(arguments: Wire.allCases) func connectionFailuresAreRetriedWithBackoffThenReported(wire: Wire) async throws {
        try await withClient { client in
            let clock = RecordingClock()
            let port = try LlamaTestServer.closedPort()
            let endpoint = ProviderEndpoint(baseURL: wire == .openAI ? "http://127.0.0.1:\(port)/v1" : "http://127.0.0.1:\(port)",
                                            key: ProviderKey("k"), retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(100)))
            let provider: any ChatProvider = wire == .openAI ? try OpenAIChatProvider(endpoint: endpoint, client: client, clock: clock)
                : try AnthropicMessagesProvider(endpoint: endpoint, client: client, clock: clock)
            await #expect(throws: ProviderFailure(.transport, "could not reach the provider", retryable: true)) {
                try await provider.stream(ProviderRequest(model: "m", messages: [.user("hi")]))
            }
            #expect(clock.recorded == [.milliseconds(100), .milliseconds(200)])
        }
    }

    @Test(arguments: Wire.allCases) func aBadKeyIs401AndNotRetried(wire: Wire) async throws {
        try await LlamaTestServer.withServer { server in
            try await withClient { client in
                let clock = RecordingClock()
                let provider = try server.provider(wire, key: "wrong-key-value", client: client, clock: clock)
                do {
                    _ = try await provider.stream(ProviderRequest(model: LlamaTestServer.model, messages: [.user("hi")], maxTokens: 4))
                    Issue.record("expected 401")
                } catch let failure as ProviderFailure {
                    #expect(failure.httpStatus == 401)
                    #expect(!failure.retryable)
                    #expect(!failure.message.contains("wrong-key-value"))
                }
                #expect(clock.recorded.isEmpty)
                await #expect(throws: ProviderFailure.self) { try await provider.models() }
            }
        }
    }

    /// Cancelling the consuming task mid-stream ends it within 1 s and closes the connection: the
    /// server cancels the generation and its slot stops processing.
    @Test(arguments: Wire.allCases) func cancelMidStreamClosesTheProviderConnection(wire: Wire) async throws {
        try await LlamaTestServer.withServer { server in
            try await withClient { client in
                let provider = try server.provider(wire, client: client)
                let firstToken = AsyncStream<Void>.makeStream()
                let consumer = Task {
                    var count = 0
                    for try await event in try await provider.stream(ProviderRequest(
                        model: LlamaTestServer.model, messages: [.user("Write a very long story about a lighthouse keeper.")],
                        maxTokens: 2000, temperature: 0.8)) {
                        if case .textDelta = event {
                            count += 1
                            if count == 1 { firstToken.continuation.yield() }
                        }
                    }
                    return count
                }
                var iterator = firstToken.stream.makeAsyncIterator()
                _ = await iterator.next()
                #expect(try await server.isProcessing())
                let cancelledAt = ContinuousClock.now
                consumer.cancel()
                _ = await consumer.result
                #expect(ContinuousClock.now - cancelledAt < .seconds(1))
                let deadline = ContinuousClock.now + .seconds(10)
                while try await server.isProcessing(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                #expect(try await !server.isProcessing())
            }
        }
    }

    /// A provider that dies mid-stream ends the stream with an error, never a silent end.
    @Test(arguments: Wire.allCases) func aProviderDyingMidStreamIsAnErrorNotASilentEnd(wire: Wire) async throws {
        try await LlamaTestServer.withServer { server in
            try await withClient { client in
                let provider = try server.provider(wire, client: client)
                let stream = try await provider.stream(ProviderRequest(
                    model: LlamaTestServer.model, messages: [.user("Write a very long story about a lighthouse keeper.")],
                    maxTokens: 2000, temperature: 0.8))
                var sawText = false
                do {
                    for try await event in stream {
                        if case .textDelta = event, !sawText {
                            sawText = true
                            server.crash()
                        }
                        if case .finished = event { Issue.record("the stream finished after the server died") }
                    }
                    Issue.record("the stream ended silently")
                } catch let failure as ProviderFailure {
                    #expect(failure.kind == .transport || failure.kind == .truncated)
                }
                #expect(sawText)
            }
        }
    }

    @Test(arguments: Wire.allCases) func modelListsComeFromTheProvider(wire: Wire) async throws {
        try await LlamaTestServer.withServer { server in
            try await withClient { client in
                let models = try await server.provider(wire, client: client).models()
                #expect(models.map(\.id).contains(LlamaTestServer.model))
            }
        }
    }
}
