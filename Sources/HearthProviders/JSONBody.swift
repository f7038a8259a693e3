public import HearthAgentCore
import Foundation

/// Request bodies are built as JSON objects so that raw JSON the caller supplies (tool schemas,
/// extra fields) is embedded as values, not spliced as text, and extra fields override by member.
enum JSONBody {
    static func object(_ text: String, what: String) throws(ProviderFailure) -> [String: Any] {
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
              let object = value as? [String: Any]
        else { throw ProviderFailure(.invalidRequest, "\(what) must be a JSON object") }
        return object
    }

    /// A tool's arguments as an object; the model may have written anything, which becomes `{}`.
    static func argumentsObject(_ text: String) -> [String: Any] {
        guard !text.isEmpty, let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let object = value as? [String: Any] else { return [:] }
        return object
    }

    static func merge(_ base: inout [String: Any], extras: String?, what: String) throws(ProviderFailure) {
        guard let extras, !extras.isEmpty else { return }
        for (key, value) in try object(extras, what: what) { base[key] = value }
    }

    static func encode(_ object: [String: Any]) throws(ProviderFailure) -> [UInt8] {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]) else {
            throw ProviderFailure(.invalidRequest, "the request could not be encoded as JSON")
        }
        return [UInt8](data)
    }
}
