import Foundation
import HearthAgentCore
import Testing

@Suite struct AgentCoreTests {
    @Test func messagesRoundTripThroughTheirStoredJSONShape() throws {
        let message = ChatMessage(role: .assistant, content: [
            .thinking(text: "hmm", signature: "EqQB"),
            .text("I'll list them."),
            .toolUse(id: "toolu_1", name: "bash", argumentsJSON: #"{"command":"ls"}"#),
        ])
        let results = ChatMessage(role: .user, content: [.toolResult(id: "toolu_1", content: "README.md\n", isError: true)])
        let data = try JSONEncoder().encode([message, results])
        let back = try JSONDecoder().decode([ChatMessage].self, from: data)
        #expect(back == [message, results])
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""type":"tool_use""#))
        #expect(message.toolCalls == [ToolCall(id: "toolu_1", name: "bash", argumentsJSON: #"{"command":"ls"}"#)])
        #expect(message.text == "I'll list them.")
    }

    @Test func anUnknownBlockTypeIsRefused() {
        let data = Data(#"{"role":"user","content":[{"type":"image","text":"x"}]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ChatMessage.self, from: data) }
    }

    @Test func tokenArithmeticSaturatesOnHostileNumbers() {
        let huge = TokenUsage(input: Int.max, output: Int.max)
        #expect(huge.total == Int.max)
        #expect((huge + huge).input == Int.max)
        #expect(TokenUsage(input: -5, output: -1) == TokenUsage())
        let budget = AgentBudget(maxCostMicroUSD: 1_000, inputMicroUSDPerMillionTokens: Int.max)
        #expect(budget.costMicroUSD(huge) == Int.max)
        #expect(budget.isExhausted(by: huge))
    }

    @Test func budgetsAreCheckedOnTokensAndCost() {
        let tokens = AgentBudget(maxTotalTokens: 100)
        #expect(!tokens.isExhausted(by: TokenUsage(input: 60, output: 39)))
        #expect(tokens.isExhausted(by: TokenUsage(input: 60, output: 40)))
        // $3 and $15 per million tokens: 100k in + 10k out = 0.30 + 0.15 = $0.45.
        let cost = AgentBudget(maxCostMicroUSD: 450_000, inputMicroUSDPerMillionTokens: 3_000_000, outputMicroUSDPerMillionTokens: 15_000_000)
        #expect(cost.costMicroUSD(TokenUsage(input: 100_000, output: 10_000)) == 450_000)
        #expect(cost.isExhausted(by: TokenUsage(input: 100_000, output: 10_000)))
        #expect(!cost.isExhausted(by: TokenUsage(input: 100_000, output: 9_999)))
        #expect(!AgentBudget().isExhausted(by: TokenUsage(input: Int.max, output: 0)))
    }

    @Test func stopReasonsOfBothWireFormatsMap() {
        #expect(StopReason(wireName: "tool_calls") == .toolUse)
        #expect(StopReason(wireName: "tool_use") == .toolUse)
        #expect(StopReason(wireName: "stop") == .endTurn)
        #expect(StopReason(wireName: "end_turn") == .endTurn)
        #expect(StopReason(wireName: "length") == .maxTokens)
        #expect(StopReason(wireName: "pause_turn") == .other("pause_turn"))
    }
}
