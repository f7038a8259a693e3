public import AsyncHTTPClient
public import HearthAgentCore
public import Logging
import Foundation
import NIOHTTP1

/// Anthropic Messages, streaming, with tools and thinking blocks sent back with their signatures.
public struct AnthropicMessagesProvider: ChatProvider {
    public static let apiVersion = "2023-06-01"
    /// Messages requires `max_tokens`; used when the request leaves it out.
    public static let defaultMaxTokens = 4096
    /// Model-list pages followed at most (1000 models each).
    static let maxModelPages = 10

    let http: ProviderHTTP

    public init(endpoint: ProviderEndpoint, client: HTTPClient, clock: any ProviderClock = SystemProviderClock(),
                logger: Logger = Logger(label: "hearth.providers.anthropic")) throws {
        http = ProviderHTTP(client: client, endpoint: try endpoint.validated(), clock: clock, logger: logger, provider: "anthropic")
    }

    var authHeaders: [(String, String)] {
        [("anthropic-version", Self.apiVersion)] + (http.endpoint.key.map { [("x-api-key", $0.secret)] } ?? [])
    }

    public func stream(_ request: ProviderRequest) async throws -> AsyncThrowingStream<ProviderEvent, any Error> {
        let body = try Self.body(for: request, endpointExtras: http.endpoint.extraFieldsJSON)
        let response = try await http.send(method: .POST, path: "/v1/messages",
                                           headers: authHeaders + [("accept", "text/event-stream")], body: body)
        let logger = http.logger
        logger.debug("provider.stream.started", metadata: ["provider.kind": "anthropic", "provider.model": "\(request.model)"])
        return providerEventStream(body: response.body, decoder: AnthropicStreamDecoder()) { how in
            logger.debug("provider.stream.ended", metadata: ["provider.kind": "anthropic", "provider.end": "\(how)"])
        }
    }

    struct ModelPage: Decodable {
        struct Model: Decodable {
            var id: String
            var display_name: String?
            var created_at: String?
        }
        var data: [Model]
        var has_more: Bool?
        var last_id: String?
    }

    /// `GET /v1/models?limit=1000`, following `after_id` while `has_more`, for a bounded number of pages.
    public func models() async throws -> [ModelInfo] {
        var models: [ModelInfo] = []
        var after: String?
        for _ in 0..<Self.maxModelPages {
            var path = "/v1/models?limit=1000"
            if let after, let escaped = after.addingPercentEncoding(withAllowedCharacters: .alphanumerics) { path += "&after_id=" + escaped }
            let response = try await http.send(method: .GET, path: path, headers: authHeaders, body: nil)
            let bytes = try await http.readAll(response, limit: ProviderHTTP.maxListBodyBytes)
            let page = try Self.decodeModelPage(bytes)
            models += page.data.map { ModelInfo(id: $0.id, displayName: $0.display_name, created: $0.created_at) }
            guard page.has_more == true, let last = page.last_id, last != after else { break }
            after = last
        }
        return models
    }

    static func decodeModelPage(_ bytes: [UInt8]) throws -> ModelPage {
        guard let page = try? JSONDecoder().decode(ModelPage.self, from: Data(bytes)) else {
            throw ProviderFailure(.malformed, "the provider's model list is not in the Anthropic shape")
        }
        return page
    }
}

extension AnthropicMessagesProvider {
    /// The request body: `system` top-level, blocks as Anthropic writes them, tool input as an object,
    /// thinking blocks only with their signature (an unsigned one would be refused), then the
    /// endpoint's and the request's extra fields over the top.
    static func body(for request: ProviderRequest, endpointExtras: String?) throws(ProviderFailure) -> [UInt8] {
        var messages: [[String: Any]] = []
        for message in request.messages {
            var blocks: [[String: Any]] = []
            for block in message.content {
                switch block {
                case .text(let text):
                    if !text.isEmpty { blocks.append(["type": "text", "text": text]) }
                case .thinking(let text, let signature):
                    if let signature { blocks.append(["type": "thinking", "thinking": text, "signature": signature]) }
                case .toolUse(let id, let name, let args):
                    blocks.append(["type": "tool_use", "id": id, "name": name, "input": JSONBody.argumentsObject(args)])
                case .toolResult(let id, let content, let isError):
                    blocks.append(["type": "tool_result", "tool_use_id": id, "content": content, "is_error": isError])
                }
            }
            if !blocks.isEmpty { messages.append(["role": message.role.rawValue, "content": blocks]) }
        }
        var body: [String: Any] = [
            "model": request.model, "stream": true, "messages": messages,
            "max_tokens": request.maxTokens ?? Self.defaultMaxTokens,
        ]
        if let system = request.system, !system.isEmpty { body["system"] = system }
        if !request.tools.isEmpty {
            body["tools"] = try request.tools.map { (tool: ToolSpec) throws(ProviderFailure) -> [String: Any] in
                ["name": tool.name, "description": tool.description,
                 "input_schema": try JSONBody.object(tool.parametersSchemaJSON, what: "the schema of tool \(tool.name)")]
            }
            switch request.toolChoice {
            case .auto: body["tool_choice"] = ["type": "auto"]
            case .required: body["tool_choice"] = ["type": "any"]
            case .none: body["tool_choice"] = ["type": "none"]
            case .named(let name): body["tool_choice"] = ["type": "tool", "name": name]
            }
        }
        if let temperature = request.temperature { body["temperature"] = temperature }
        try JSONBody.merge(&body, extras: endpointExtras, what: "the provider's extra fields")
        try JSONBody.merge(&body, extras: request.extraFieldsJSON, what: "the extra fields")
        return try JSONBody.encode(body)
    }
}
