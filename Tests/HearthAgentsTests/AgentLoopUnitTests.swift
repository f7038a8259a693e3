import HearthAgentCore
@testable import HearthAgents
import Testing

@Suite struct AgentLoopUnitTests {
    @Test func toolOutputIsCutHeadAndTailOnUTF8Boundaries() {
        let text = String(repeating: "é", count: 200) + "MIDDLE" + String(repeating: "ü", count: 200)
        let cut = AgentLoop.truncated(ToolOutcome(content: text), to: 128)
        #expect(cut.truncated)
        #expect(cut.content.hasPrefix("éé"))
        #expect(cut.content.hasSuffix("üü"))
        #expect(cut.content.contains("bytes truncated"))
        #expect(!cut.content.contains("MIDDLE"))
        #expect(cut.content.utf8.count < 200)
        #expect(AgentLoop.truncated(ToolOutcome(content: "short"), to: 128) == ToolOutcome(content: "short"))
    }

    @Test func identicalCallsCompareArgumentsUpToKeyOrderAndSpacing() {
        var state = TurnState(history: [], usage: TokenUsage())
        #expect(state.repeats(ToolCall(id: "1", name: "bash", argumentsJSON: #"{"a":1,"b":2}"#)) == 1)
        #expect(state.repeats(ToolCall(id: "2", name: "bash", argumentsJSON: #"{ "b": 2, "a": 1 }"#)) == 2)
        #expect(state.repeats(ToolCall(id: "3", name: "read_file", argumentsJSON: #"{"b":2,"a":1}"#)) == 1)
        #expect(state.repeats(ToolCall(id: "4", name: "read_file", argumentsJSON: "not json")) == 1)
        #expect(state.repeats(ToolCall(id: "5", name: "read_file", argumentsJSON: "not json")) == 2)
    }

    @Test func assemblyClosesThinkingOnSignatureAndBoundsWhatItHolds() throws {
        var assembly = ResponseAssembly(maxText: 16, maxArguments: 8)
        _ = try assembly.take(.thinkingDelta("plan"))
        _ = try assembly.take(.thinkingSignature("sig"))
        _ = try assembly.take(.textDelta("ok"))
        _ = try assembly.take(.toolCallStarted(index: 3, id: "c", name: "bash"))
        _ = try assembly.take(.toolCallArgumentsDelta(index: 3, fragment: "{}"))
        let message = assembly.message(calls: assembly.calls)
        #expect(message.content == [.thinking(text: "plan", signature: "sig"), .text("ok"), .toolUse(id: "c", name: "bash", argumentsJSON: "{}")])
        #expect(throws: ProviderFailure.self) { try assembly.take(.toolCallArgumentsDelta(index: 3, fragment: "0123456789")) }
        #expect(throws: ProviderFailure.self) { try assembly.take(.toolCallArgumentsDelta(index: 9, fragment: "{}")) }
        #expect(throws: ProviderFailure.self) { try assembly.take(.textDelta(String(repeating: "x", count: 20))) }
    }
}
