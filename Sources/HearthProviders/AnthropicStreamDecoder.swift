public import HearthAgentCore
import Foundation

/// Anthropic Messages streaming: `message_start`, `content_block_start/delta/stop` (text_delta,
/// input_json_delta, thinking_delta, signature_delta), `message_delta` (stop reason, usage),
/// `message_stop` last; `ping` ignored; `error` terminal. Unknown event types are ignored, as
/// Anthropic's versioning policy asks.
public struct AnthropicStreamDecoder: ProviderStreamDecoder {
    public static let maxBlocks = 1024

    private var inputTokens = 0
    private var outputTokens = 0
    private var stopReason: StopReason?
    public private(set) var isComplete = false

    public init() {}

    struct Frame: Decodable {
        struct Message: Decodable { var usage: Usage? }
        struct Usage: Decodable {
            var input_tokens: Int?
            var output_tokens: Int?
        }
        struct Block: Decodable {
            var type: String
            var id: String?
            var name: String?
            var text: String?
            var thinking: String?
        }
        struct Delta: Decodable {
            var type: String?
            var text: String?
            var partial_json: String?
            var thinking: String?
            var signature: String?
            var stop_reason: String?
        }
        struct ErrorBody: Decodable {
            var type: String?
            var message: String?
        }
        var type: String
        var index: Int?
        var message: Message?
        var content_block: Block?
        var delta: Delta?
        var usage: Usage?
        var error: ErrorBody?
    }

    public mutating func decode(_ event: SSEEvent) throws(ProviderFailure) -> [ProviderEvent] {
        if isComplete { return [] }
        if event.event == "error" { throw Self.streamError(event.data) }
        let frame: Frame
        do { frame = try JSONDecoder().decode(Frame.self, from: Data(event.data.utf8)) } catch {
            throw ProviderFailure(.malformed, "the provider sent a frame that is not a Messages stream event")
        }
        switch frame.type {
        case "message_start":
            if let usage = frame.message?.usage {
                inputTokens = max(0, usage.input_tokens ?? 0)
                outputTokens = max(0, usage.output_tokens ?? 0)
                return [.usage(input: inputTokens, output: outputTokens)]
            }
            return []
        case "content_block_start":
            let index = try blockIndex(frame)
            guard let block = frame.content_block else { return [] }
            switch block.type {
            case "tool_use", "server_tool_use":
                return [.toolCallStarted(index: index, id: block.id ?? "toolu_\(index)", name: block.name ?? "")]
            case "text":
                return block.text.flatMap { $0.isEmpty ? nil : [.textDelta($0)] } ?? []
            case "thinking":
                return block.thinking.flatMap { $0.isEmpty ? nil : [.thinkingDelta($0)] } ?? []
            default:
                return []
            }
        case "content_block_delta":
            let index = try blockIndex(frame)
            guard let delta = frame.delta else { return [] }
            switch delta.type {
            case "text_delta": return delta.text.map { [.textDelta($0)] } ?? []
            case "input_json_delta": return delta.partial_json.flatMap { $0.isEmpty ? nil : [.toolCallArgumentsDelta(index: index, fragment: $0)] } ?? []
            case "thinking_delta": return delta.thinking.map { [.thinkingDelta($0)] } ?? []
            case "signature_delta": return delta.signature.map { [.thinkingSignature($0)] } ?? []
            default: return []
            }
        case "message_delta":
            if let reason = frame.delta?.stop_reason { stopReason = StopReason(wireName: reason) }
            if let usage = frame.usage {
                if let input = usage.input_tokens { inputTokens = max(0, input) }
                outputTokens = max(0, usage.output_tokens ?? outputTokens)
                return [.usage(input: inputTokens, output: outputTokens)]
            }
            return []
        case "message_stop":
            isComplete = true
            return [.finished(stopReason ?? .other("message_stop"))]
        case "error":
            throw Self.streamError(event.data)
        default:  // ping, content_block_stop, and types added later
            return []
        }
    }

    /// Anthropic's `{"type":"error","error":{"type":"overloaded_error","message":…}}`, or the flat
    /// `{"code":500,"message":…,"type":"server_error"}` llama.cpp's server sends.
    static func streamError(_ data: String) -> ProviderFailure {
        struct Envelope: Decodable {
            struct Inner: Decodable {
                var type: String?
                var message: String?
            }
            var error: Inner?
            var message: String?
            var type: String?
            var code: OpenAIStreamDecoder.LooseCode?
        }
        let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(data.utf8))
        let type = envelope?.error?.type ?? envelope?.type ?? "error"
        let status = envelope?.code?.number
        let retryable = ["overloaded_error", "rate_limit_error", "api_error"].contains(type) || status.map(RetryPolicy.isRetryable(status:)) == true
        let message = envelope?.error?.message ?? envelope?.message ?? type
        return ProviderFailure(.stream, OpenAIStreamDecoder.clip(message), httpStatus: status, retryable: retryable)
    }

    private func blockIndex(_ frame: Frame) throws(ProviderFailure) -> Int {
        let index = frame.index ?? 0
        guard (0..<Self.maxBlocks).contains(index) else {
            throw ProviderFailure(.malformed, "the provider sent a content block index out of range")
        }
        return index
    }
}
