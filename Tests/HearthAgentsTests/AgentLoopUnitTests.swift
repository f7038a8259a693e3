import HearthAgentCore
@testable import HearthAgents
import HearthScrub
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

    /// From a hostile review: one response could carry 1,024 calls of 256 KiB each, all kept in the
    /// history and re-sent at every later step. Now a response holds at most 32 calls and 1 MiB of
    /// arguments in all.
    @Test func oneResponseHoldsABoundedNumberOfCallsAndArgumentBytes() throws {
        var many = ResponseAssembly(maxText: 1 << 20, maxArguments: 256 * 1024)
        for index in 0..<ResponseAssembly.maxCalls { _ = try many.take(.toolCallStarted(index: index, id: "c\(index)", name: "bash")) }
        #expect(throws: ProviderFailure.self) { try many.take(.toolCallStarted(index: 99, id: "x", name: "bash")) }

        var heavy = ResponseAssembly(maxText: 1 << 20, maxArguments: 256 * 1024)
        let fragment = String(repeating: "a", count: 64 * 1024)
        var sent = 0
        let failed: Bool = {
            for index in 0..<8 {
                guard (try? heavy.take(.toolCallStarted(index: index, id: "c\(index)", name: "bash"))) != nil else { return true }
                for _ in 0..<4 {
                    guard (try? heavy.take(.toolCallArgumentsDelta(index: index, fragment: fragment))) != nil else { return true }
                    sent += fragment.utf8.count
                }
            }
            return false
        }()
        #expect(failed && sent <= ResponseAssembly.maxArgumentBytesPerResponse, "sent \(sent) bytes")

        // A long thinking text a byte at a time is assembled in place, and whole.
        var thinking = ResponseAssembly(maxText: 1 << 20, maxArguments: 8)
        for _ in 0..<100_000 { _ = try thinking.take(.thinkingDelta("t")) }
        _ = try thinking.take(.thinkingSignature("s"))
        #expect(thinking.thinking == [.thinking(text: String(repeating: "t", count: 100_000), signature: "s")])
    }
}

/// A provider whose stream ends without its final event: the only way to make that happen on
/// purpose (a real server that does it is exactly what the guard is for).
struct SilentEndProvider: ChatProvider {
    func stream(_ request: ProviderRequest) async throws -> AsyncThrowingStream<ProviderEvent, any Error> {
        AsyncThrowingStream { continuation in
            continuation.yield(.textDelta("half an ans"))
            continuation.finish()
        }
    }
    func models() async throws -> [ModelInfo] { [] }
}

struct NoTools: ToolRunner {
    var tools: [ToolSpec] { [] }
    func run(_ call: ToolCall) async -> ToolOutcome { ToolOutcome(content: "", isError: true) }
}

@Suite struct AgentLoopEndOfStreamTests {
    @Test func aStreamThatEndsWithoutItsFinalEventFailsTheTurn() async {
        let loop = AgentLoop(provider: SilentEndProvider(), tools: NoTools(), configuration: AgentLoopConfiguration(model: "m"))
        var scrubber = ScrubSession()
        let result = await loop.runTurn(history: [], prompt: "hi", usage: TokenUsage(), scrubber: &scrubber) { _ in }
        #expect(result.outcome == .failed)
        #expect(result.appended.last == .assistant("half an ans"))
    }
}
