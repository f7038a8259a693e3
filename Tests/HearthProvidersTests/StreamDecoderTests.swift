import HearthAgentCore
@testable import HearthProviders
import Testing

/// Frames as captured from llama-server and as the providers document them (anchors-agents.md §2).
@Suite struct StreamDecoderTests {
    func run<D: ProviderStreamDecoder>(_ decoder: inout D, _ stream: String) throws -> [ProviderEvent] {
        var parser = SSEParser()
        var out: [ProviderEvent] = []
        for event in try parser.feed(Array(stream.utf8)) { out += try decoder.decode(event) }
        return out
    }

    @Test func openAIToolCallFragmentsAssembleByIndex() throws {
        var decoder = OpenAIStreamDecoder()
        let stream = """
        : OPENROUTER PROCESSING

        data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}

        data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"bash","arguments":"{"}}]}}]}

        data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"command\\": \\"ls\\"}"}}]}}]}

        data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"read_file","arguments":"{}"}}]}}]}

        data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

        data: {"choices":[],"usage":{"prompt_tokens":57,"completion_tokens":12}}

        data: [DONE]


        """
        let events = try run(&decoder, stream)
        #expect(events == [
            .toolCallStarted(index: 0, id: "call_1", name: "bash"),
            .toolCallArgumentsDelta(index: 0, fragment: "{"),
            .toolCallArgumentsDelta(index: 0, fragment: #""command": "ls"}"#),
            .toolCallStarted(index: 1, id: "call_2", name: "read_file"),
            .toolCallArgumentsDelta(index: 1, fragment: "{}"),
            .usage(input: 57, output: 12),
            .finished(.toolUse),
        ])
        #expect(decoder.isComplete)
    }

    @Test func openAIErrorFrameInsideA200StreamIsTerminal() throws {
        var decoder = OpenAIStreamDecoder()
        let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"error\":{\"code\":502,\"message\":\"upstream died\"}}\n\n"
        do {
            _ = try run(&decoder, stream)
            Issue.record("no error thrown")
        } catch let failure as ProviderFailure {
            #expect(failure.kind == .stream)
            #expect(failure.httpStatus == 502)
            #expect(failure.retryable)
            #expect(failure.message == "upstream died")
        }
        #expect(!decoder.isComplete)
    }

    @Test func openAIReasoningAndTextStream() throws {
        var decoder = OpenAIStreamDecoder()
        let events = try run(&decoder, "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hm\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Paris\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
        #expect(events == [.thinkingDelta("hm"), .textDelta("Paris"), .finished(.endTurn)])
    }

    @Test func anthropicFullSequenceWithThinkingSignatureAndToolUse() throws {
        var decoder = AnthropicStreamDecoder()
        let stream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_01","usage":{"input_tokens":25,"output_tokens":1}}}

        event: ping
        data: {"type":"ping"}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"I'll list."}}

        event: content_block_start
        data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01","name":"bash","input":{}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"command\\": \\"l"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"s\\"}"}}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":42}}

        event: message_stop
        data: {"type":"message_stop"}


        """
        let events = try run(&decoder, stream)
        #expect(events == [
            .usage(input: 25, output: 1),
            .thinkingDelta("Let me"), .thinkingSignature("EqQB"),
            .textDelta("I'll list."),
            .toolCallStarted(index: 2, id: "toolu_01", name: "bash"),
            .toolCallArgumentsDelta(index: 2, fragment: #"{"command": "l"#),
            .toolCallArgumentsDelta(index: 2, fragment: #"s"}"#),
            .usage(input: 25, output: 42),
            .finished(.toolUse),
        ])
        #expect(decoder.isComplete)
    }

    @Test func anthropicErrorEventIsTerminalAndRetryableWhenOverloaded() throws {
        var decoder = AnthropicStreamDecoder()
        #expect(throws: ProviderFailure(.stream, "Overloaded", retryable: true)) {
            try run(&decoder, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
        }
    }

    @Test func llamaCppsFlatErrorEventIsAStreamError() throws {
        var decoder = AnthropicStreamDecoder()
        #expect(throws: ProviderFailure(.stream, "The model produced output that does not match the expected peg-native format", httpStatus: 500, retryable: true)) {
            try run(&decoder, "event: error\ndata: {\"code\":500,\"message\":\"The model produced output that does not match the expected peg-native format\",\"type\":\"server_error\"}\n\n")
        }
    }

    @Test func outOfRangeIndicesAndNonJSONAreMalformed() {
        var openAI = OpenAIStreamDecoder()
        #expect(throws: ProviderFailure.self) { try openAI.decode(SSEEvent(data: #"{"choices":[{"delta":{"tool_calls":[{"index":999999999999}]}}]}"#)) }
        var anthropic = AnthropicStreamDecoder()
        #expect(throws: ProviderFailure.self) { try anthropic.decode(SSEEvent(data: #"{"type":"content_block_delta","index":-1}"#)) }
        #expect(throws: ProviderFailure.self) { try anthropic.decode(SSEEvent(data: "not json")) }
    }

    /// Seeded fuzz of both decoders with mutated real frames: no crash, indices stay in bounds.
    @Test func fuzzedFramesNeverCrashTheDecoders() {
        var rng = SeededGenerator(seed: 18)
        let seeds = [
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"bash","arguments":"{"}}]},"finish_reason":null}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
            #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}"#,
            #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":42}}"#,
            #"{"error":{"code":"429","message":"slow down"}}"#,
        ]
        for _ in 0..<3_000 {
            var bytes = Array(seeds.randomElement(using: &rng)!.utf8)
            for _ in 0..<Int.random(in: 1...6, using: &rng) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                default: bytes.insert(contentsOf: Array("9999999999999999999".utf8.prefix(Int.random(in: 1...19, using: &rng))), at: at)
                }
            }
            let event = SSEEvent(data: String(decoding: bytes, as: UTF8.self))
            var openAI = OpenAIStreamDecoder()
            var anthropic = AnthropicStreamDecoder()
            for produced in [(try? openAI.decode(event)) ?? [], (try? anthropic.decode(event)) ?? []] {
                for e in produced {
                    if case .toolCallStarted(let index, _, _) = e { #expect(index >= 0 && index < AnthropicStreamDecoder.maxBlocks) }
                    if case .toolCallArgumentsDelta(let index, _) = e { #expect(index >= 0 && index < AnthropicStreamDecoder.maxBlocks) }
                    if case .usage(let i, let o) = e { #expect(i >= 0 && o >= 0) }
                }
            }
        }
    }
}
