public import HearthAgentCore
import Foundation

/// OpenAI Chat Completions streaming (also OpenRouter, Mistral, vLLM, Ollama, llama.cpp): `data:`
/// frames of `chat.completion.chunk`, tool calls as `delta.tool_calls` fragments keyed by index,
/// usage in a chunk with empty `choices`, an `error` object inside a 200 stream, `[DONE]` last.
public struct OpenAIStreamDecoder: ProviderStreamDecoder {
    /// More tool calls than this in one response is not a real model.
    public static let maxToolCalls = 128

    private var started: Set<Int> = []
    private var stopReason: StopReason?
    public private(set) var isComplete = false

    public init() {}

    struct Chunk: Decodable {
        struct Choice: Decodable {
            var index: Int?
            var delta: Delta?
            var finish_reason: String?
        }
        struct Delta: Decodable {
            var content: String?
            var reasoning_content: String?
            var reasoning: String?
            var tool_calls: [ToolCallDelta]?
        }
        struct ToolCallDelta: Decodable {
            struct Function: Decodable {
                var name: String?
                var arguments: String?
            }
            var index: Int?
            var id: String?
            var function: Function?
        }
        struct Usage: Decodable {
            var prompt_tokens: Int?
            var completion_tokens: Int?
        }
        var choices: [Choice]?
        var usage: Usage?
        var error: StreamError?
    }

    struct StreamError: Decodable {
        var message: String?
        var type: String?
        var code: LooseCode?
    }

    /// `code` is a number on OpenRouter and a string on OpenAI.
    struct LooseCode: Decodable {
        var number: Int?
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            number = (try? c.decode(Int.self)) ?? (try? c.decode(String.self)).flatMap { Int($0) }
        }
    }

    public mutating func decode(_ event: SSEEvent) throws(ProviderFailure) -> [ProviderEvent] {
        if isComplete { return [] }
        if event.data == "[DONE]" {
            isComplete = true
            return [.finished(stopReason ?? .other("done"))]
        }
        let chunk: Chunk
        do { chunk = try JSONDecoder().decode(Chunk.self, from: Data(event.data.utf8)) } catch {
            throw ProviderFailure(.malformed, "the provider sent a frame that is not a chat completion chunk")
        }
        if let error = chunk.error {
            let status = error.code?.number
            let retryable = status.map(RetryPolicy.isRetryable(status:)) ?? false
            throw ProviderFailure(.stream, Self.clip(error.message ?? error.type ?? "the provider reported an error mid-stream"),
                                  httpStatus: status, retryable: retryable)
        }
        var events: [ProviderEvent] = []
        for choice in chunk.choices ?? [] where (choice.index ?? 0) == 0 {
            if let delta = choice.delta {
                if let thinking = delta.reasoning_content ?? delta.reasoning, !thinking.isEmpty { events.append(.thinkingDelta(thinking)) }
                if let text = delta.content, !text.isEmpty { events.append(.textDelta(text)) }
                for call in delta.tool_calls ?? [] {
                    let index = call.index ?? 0
                    guard (0..<Self.maxToolCalls).contains(index) else {
                        throw ProviderFailure(.malformed, "the provider sent a tool call index out of range")
                    }
                    if !started.contains(index) {
                        started.insert(index)
                        events.append(.toolCallStarted(index: index, id: call.id ?? "call_\(index)", name: call.function?.name ?? ""))
                    }
                    if let fragment = call.function?.arguments, !fragment.isEmpty {
                        events.append(.toolCallArgumentsDelta(index: index, fragment: fragment))
                    }
                }
            }
            if let reason = choice.finish_reason {
                if reason == "error" { throw ProviderFailure(.stream, "the provider ended the response with an error") }
                stopReason = StopReason(wireName: reason)
            }
        }
        if let usage = chunk.usage {
            events.append(.usage(input: max(0, usage.prompt_tokens ?? 0), output: max(0, usage.completion_tokens ?? 0)))
        }
        return events
    }

    static func clip(_ text: String) -> String { text.count > 512 ? String(text.prefix(512)) + "…" : text }
}
