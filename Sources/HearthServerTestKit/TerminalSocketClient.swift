import Foundation
public import HearthClient
public import HummingbirdWSClient
public import NIOCore
import Synchronization

/// The IDE's terminal WebSocket (`/v1/workspaces/{id}/ws`) as tests drive it: one connection, a
/// task collecting what arrives, and polling waits with a deadline.
public enum TerminalSocketClient {
    /// What one connection has received: JSON messages, and output bytes per terminal.
    public final class Received: Sendable {
        let state = Mutex<(messages: [String], output: [Int: [UInt8]])>(([], [:]))
        public func messages() -> [[String: Any]] {
            state.withLock { $0.messages }.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
        }
        public func text(_ id: Int) -> String { state.withLock { String(decoding: $0.output[id] ?? [], as: UTF8.self) } }
        public func count(_ id: Int) -> Int { state.withLock { $0.output[id]?.count ?? 0 } }
        public func first(_ type: String) -> [String: Any]? { messages().first { $0["type"] as? String == type } }
        public func all(_ type: String) -> [[String: Any]] { messages().filter { $0["type"] as? String == type } }
    }

    public struct Timeout: Error, CustomStringConvertible {
        public init(what: String) { self.what = what }
        public let what: String
        public var description: String { "timed out waiting for \(what)" }
    }

    /// Runs `body` on one terminal connection of `client` to `workspace` while a task collects what arrives.
    public static func connect(_ client: HearthClient, _ workspace: String,
                               _ body: @escaping @Sendable (WebSocketOutboundWriter, Received) async throws -> Void) async throws {
        try await client.webSocket("/v1/workspaces/\(workspace)/ws") { inbound, outbound, _ in
            let received = Received()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        switch message {
                        case .text(let text):
                            received.state.withLock { $0.messages.append(text) }
                        case .binary(var buffer):
                            guard let id = buffer.readInteger(as: UInt32.self) else { continue }
                            received.state.withLock { $0.output[Int(id), default: []] += buffer.readableBytesView }
                        }
                    }
                }
                try await body(outbound, received)
                group.cancelAll()
            }
        }
    }

    /// Sends `message` as JSON.
    public static func send(_ outbound: WebSocketOutboundWriter, _ message: [String: Any]) async throws {
        let data = try JSONSerialization.data(withJSONObject: message)
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
    }

    /// Sends raw JSON text: numbers such as 2^64-1 that a dictionary cannot carry.
    public static func send(_ outbound: WebSocketOutboundWriter, _ json: String) async throws {
        try await outbound.write(.text(json))
    }

    /// Polls `condition` until it holds, or throws `Timeout` once `deadline` has passed.
    public static func until(_ what: String = "a condition", within deadline: Duration = .seconds(60),
                             _ condition: () -> Bool) async throws {
        let end = ContinuousClock.now + deadline
        while !condition() {
            guard ContinuousClock.now < end else { throw Timeout(what: what) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
