import Foundation
import HearthAgentCore
@testable import HearthProviders
import Testing

@Suite struct RequestBodyTests {
    let bash = ToolSpec(name: "bash", description: "Run a shell command",
                        parametersSchemaJSON: #"{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}"#)

    var history: [ChatMessage] {
        [.user("List the files"),
         ChatMessage(role: .assistant, content: [.thinking(text: "signed", signature: "EqQB"), .thinking(text: "unsigned", signature: nil),
                                                  .toolUse(id: "call_1", name: "bash", argumentsJSON: #"{"command":"ls"}"#)]),
         ChatMessage(role: .user, content: [.toolResult(id: "call_1", content: "README.md\n", isError: false)])]
    }

    func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func openAIBodyHasToolMessagesArgumentStringsAndExtraFieldsOnTop() throws {
        let request = ProviderRequest(model: "m", system: "be brief", messages: history, tools: [bash], toolChoice: .required,
                                      maxTokens: 32, extraFieldsJSON: #"{"logit_bias":{"39428":10},"parallel_tool_calls":false,"max_tokens":16,"top_p":0.9}"#)
        // The provider record's extra fields under the session's: the session's win.
        let body = try json(OpenAIChatProvider.body(for: request, endpointExtras: #"{"seed":42,"top_p":0.1}"#))
        #expect(body["top_p"] as? Double == 0.9)
        #expect(body["tool_choice"] as? String == "required")
        #expect(body["max_tokens"] as? Int == 16)
        #expect(body["seed"] as? Int == 42)
        #expect((body["logit_bias"] as? [String: Any])?["39428"] as? Int == 10)
        #expect(body["parallel_tool_calls"] as? Bool == false)
        let messages = try #require(body["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "tool"])
        let call = try #require((messages[2]["tool_calls"] as? [[String: Any]])?.first)
        #expect((call["function"] as? [String: Any])?["arguments"] as? String == #"{"command":"ls"}"#)
        #expect(messages[3]["tool_call_id"] as? String == "call_1")
        let tool = try #require((body["tools"] as? [[String: Any]])?.first?["function"] as? [String: Any])
        #expect((tool["parameters"] as? [String: Any])?["type"] as? String == "object")
    }

    @Test func anthropicBodyKeepsSignedThinkingAndSendsToolInputAsAnObject() throws {
        let request = ProviderRequest(model: "m", system: "be brief", messages: history, tools: [bash], toolChoice: .required)
        let body = try json(AnthropicMessagesProvider.body(for: request, endpointExtras: nil))
        #expect(body["system"] as? String == "be brief")
        #expect(body["max_tokens"] as? Int == AnthropicMessagesProvider.defaultMaxTokens)
        #expect((body["tool_choice"] as? [String: Any])?["type"] as? String == "any")
        let messages = try #require(body["messages"] as? [[String: Any]])
        let assistant = try #require(messages[1]["content"] as? [[String: Any]])
        #expect(assistant.count == 2)  // the unsigned thinking block is not sent
        #expect(assistant[0]["signature"] as? String == "EqQB")
        #expect((assistant[1]["input"] as? [String: Any])?["command"] as? String == "ls")
        let result = try #require((messages[2]["content"] as? [[String: Any]])?.first)
        #expect(result["tool_use_id"] as? String == "call_1")
        #expect(result["type"] as? String == "tool_result")
    }

    @Test func extraFieldsThatAreNotAnObjectAreRefusedBeforeSending() {
        let request = ProviderRequest(model: "m", messages: [.user("hi")], extraFieldsJSON: "[1,2]")
        #expect(throws: ProviderFailure.self) { try OpenAIChatProvider.body(for: request, endpointExtras: nil) }
        #expect(throws: ProviderFailure.self) { try AnthropicMessagesProvider.body(for: request, endpointExtras: "{oops") }
    }

    @Test func retryAfterParsesSecondsDatesAndMillisecondsAndClampsHostileValues() {
        let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(RetryAfter.delay(retryAfter: "7", retryAfterMilliseconds: nil, now: now) == .seconds(7))
        #expect(RetryAfter.delay(retryAfter: "7", retryAfterMilliseconds: "250", now: now) == .milliseconds(250))
        #expect(RetryAfter.delay(retryAfter: "Sun, 06 Nov 1994 08:49:47 GMT", retryAfterMilliseconds: nil, now: now) == .seconds(10))
        #expect(RetryAfter.delay(retryAfter: "Sun, 06 Nov 1994 08:49:27 GMT", retryAfterMilliseconds: nil, now: now) == .zero)
        #expect(RetryAfter.delay(retryAfter: String(repeating: "9", count: 40), retryAfterMilliseconds: nil, now: now) == .seconds(86_400))
        #expect(RetryAfter.delay(retryAfter: "-3", retryAfterMilliseconds: "nan", now: now) == nil)
        #expect(RetryAfter.delay(retryAfter: "Sun, 99 Nov 1994 08:49:27 GMT", retryAfterMilliseconds: nil, now: now) == nil)
    }

    @Test func theKeyNeverAppearsInDescriptionsOrEchoedMessages() {
        let endpoint = ProviderEndpoint(baseURL: "http://127.0.0.1:1/v1", key: ProviderKey("sk-secret-value"))
        #expect(!"\(endpoint)".contains("sk-secret-value"))
        #expect(endpoint.redacting("Incorrect API key provided: sk-secret-value.") == "Incorrect API key provided: ‹provider key›.")
        // A key with a control character, as an HTTP client's error prints it inside an array.
        let odd = ProviderEndpoint(baseURL: "http://127.0.0.1:1/v1", key: ProviderKey("sk-odd\nvalue\"x"))
        let described = String(describing: ["Bearer sk-odd\nvalue\"x"])
        #expect(!odd.redacting(described).contains("sk-odd"), "\(odd.redacting(described))")
    }

    @Test func baseURLsOtherThanHTTPAreRefused() {
        for url in ["file:///etc/passwd", "unix:///run/x.sock", "127.0.0.1:8080", "http://h/v1?x=1"] {
            #expect(throws: ProviderFailure.self) { try ProviderEndpoint(baseURL: url, key: nil).validated() }
        }
    }
}
