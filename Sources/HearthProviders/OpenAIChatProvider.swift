public import AsyncHTTPClient
public import HearthAgentCore
public import Logging
import Foundation
import NIOHTTP1

/// OpenAI Chat Completions, streaming, with tools. Also OpenRouter, Mistral, vLLM, Ollama and
/// llama.cpp's server through `baseURL`.
public struct OpenAIChatProvider: ChatProvider {
    let http: ProviderHTTP

    public init(endpoint: ProviderEndpoint, client: HTTPClient, clock: any ProviderClock = SystemProviderClock(),
                logger: Logger = Logger(label: "hearth.providers.openai")) throws {
        http = ProviderHTTP(client: client, endpoint: try endpoint.validated(), clock: clock, logger: logger, provider: "openai")
    }

    var authHeaders: [(String, String)] {
        http.endpoint.key.map { [("authorization", "Bearer \($0.secret)")] } ?? []
    }

    public func stream(_ request: ProviderRequest) async throws -> AsyncThrowingStream<ProviderEvent, any Error> {
        let body = try Self.body(for: request, endpointExtras: http.endpoint.extraFieldsJSON)
        let response = try await http.send(method: .POST, path: "/chat/completions",
                                           headers: authHeaders + [("accept", "text/event-stream")], body: body)
        let logger = http.logger
        logger.debug("provider.stream.started", metadata: ["provider.kind": "openai", "provider.model": "\(request.model)"])
        return providerEventStream(body: response.body, decoder: OpenAIStreamDecoder()) { how in
            logger.debug("provider.stream.ended", metadata: ["provider.kind": "openai", "provider.end": "\(how)"])
        }
    }

    public func models() async throws -> [ModelInfo] {
        let response = try await http.send(method: .GET, path: "/models", headers: authHeaders, body: nil)
        let bytes = try await http.readAll(response, limit: ProviderHTTP.maxListBodyBytes)
        return try Self.decodeModels(bytes)
    }

    struct ModelList: Decodable {
        struct Model: Decodable {
            struct Meta: Decodable { var n_ctx_train: Int? }
            var id: String
            var name: String?
            var owned_by: String?
            var created: Int64?
            var context_length: Int?
            var meta: Meta?
        }
        var data: [Model]
    }

    /// `{"object":"list","data":[{"id","owned_by","created"}]}`, plus OpenRouter's `name` and
    /// `context_length` and llama.cpp's `meta.n_ctx_train`.
    static func decodeModels(_ bytes: [UInt8]) throws -> [ModelInfo] {
        guard let list = try? JSONDecoder().decode(ModelList.self, from: Data(bytes)) else {
            throw ProviderFailure(.malformed, "the provider's model list is not in the OpenAI shape")
        }
        return list.data.map {
            ModelInfo(id: $0.id, displayName: $0.name, ownedBy: $0.owned_by, created: $0.created.map(String.init),
                      contextLength: $0.context_length ?? $0.meta?.n_ctx_train)
        }
    }
}

extension OpenAIChatProvider {
    /// The request body: system first, tool results as `role: tool` messages, tool calls with their
    /// arguments as a JSON string, thinking dropped (Chat Completions takes none back), then the
    /// endpoint's and the request's extra fields over the top.
    static func body(for request: ProviderRequest, endpointExtras: String?) throws(ProviderFailure) -> [UInt8] {
        var messages: [[String: Any]] = []
        if let system = request.system, !system.isEmpty { messages.append(["role": "system", "content": system]) }
        for message in request.messages {
            switch message.role {
            case .user:
                var text: [String] = []
                for block in message.content {
                    switch block {
                    case .toolResult(let id, let content, let isError):
                        messages.append(["role": "tool", "tool_call_id": id, "content": isError ? "error: " + content : content])
                    case .text(let t): text.append(t)
                    case .thinking, .toolUse: break
                    }
                }
                if !text.isEmpty { messages.append(["role": "user", "content": text.joined()]) }
            case .assistant:
                var entry: [String: Any] = ["role": "assistant"]
                let text = message.text
                entry["content"] = text.isEmpty ? NSNull() : text
                let calls = message.toolCalls
                if !calls.isEmpty {
                    entry["tool_calls"] = calls.map { ["id": $0.id, "type": "function", "function": ["name": $0.name, "arguments": $0.argumentsJSON]] }
                }
                messages.append(entry)
            }
        }
        var body: [String: Any] = [
            "model": request.model, "stream": true, "stream_options": ["include_usage": true], "messages": messages,
        ]
        if !request.tools.isEmpty {
            body["tools"] = try request.tools.map { (tool: ToolSpec) throws(ProviderFailure) -> [String: Any] in
                ["type": "function", "function": [
                    "name": tool.name, "description": tool.description,
                    "parameters": try JSONBody.object(tool.parametersSchemaJSON, what: "the schema of tool \(tool.name)"),
                ] as [String: Any]]
            }
            switch request.toolChoice {
            case .auto: body["tool_choice"] = "auto"
            case .required: body["tool_choice"] = "required"
            case .none: body["tool_choice"] = "none"
            case .named(let name): body["tool_choice"] = ["type": "function", "function": ["name": name]]
            }
        }
        if let maxTokens = request.maxTokens { body["max_tokens"] = maxTokens }
        if let temperature = request.temperature { body["temperature"] = temperature }
        try JSONBody.merge(&body, extras: endpointExtras, what: "the provider's extra fields")
        try JSONBody.merge(&body, extras: request.extraFieldsJSON, what: "the extra fields")
        return try JSONBody.encode(body)
    }
}
