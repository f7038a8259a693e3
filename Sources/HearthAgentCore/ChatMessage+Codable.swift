/// A stable, readable JSON shape for stored transcripts: `{"type":"text","text":"…"}` and so on,
/// close to Anthropic's block shapes so a stored transcript reads like what was sent.
extension ContentBlock: Codable {
    private enum CodingKeys: String, CodingKey {
        case type, text, signature, id, name, arguments, content, isError
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "text":
            self = .text(try c.decode(String.self, forKey: .text))
        case "thinking":
            self = .thinking(text: try c.decode(String.self, forKey: .text),
                             signature: try c.decodeIfPresent(String.self, forKey: .signature))
        case "tool_use":
            self = .toolUse(id: try c.decode(String.self, forKey: .id), name: try c.decode(String.self, forKey: .name),
                            argumentsJSON: try c.decode(String.self, forKey: .arguments))
        case "tool_result":
            self = .toolResult(id: try c.decode(String.self, forKey: .id), content: try c.decode(String.self, forKey: .content),
                               isError: try c.decodeIfPresent(Bool.self, forKey: .isError) ?? false)
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown content block type \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .text(let text):
            try c.encode("text", forKey: .type)
            try c.encode(text, forKey: .text)
        case .thinking(let text, let signature):
            try c.encode("thinking", forKey: .type)
            try c.encode(text, forKey: .text)
            try c.encodeIfPresent(signature, forKey: .signature)
        case .toolUse(let id, let name, let args):
            try c.encode("tool_use", forKey: .type)
            try c.encode(id, forKey: .id)
            try c.encode(name, forKey: .name)
            try c.encode(args, forKey: .arguments)
        case .toolResult(let id, let content, let isError):
            try c.encode("tool_result", forKey: .type)
            try c.encode(id, forKey: .id)
            try c.encode(content, forKey: .content)
            try c.encode(isError, forKey: .isError)
        }
    }
}

