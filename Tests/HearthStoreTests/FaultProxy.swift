import AsyncHTTPClient
import Foundation
@testable import HearthStore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP proxy in front of the test's SeaweedFS that breaks S3 traffic on purpose: it answers 503
/// without forwarding, drops the connection before forwarding, forwards and then drops the
/// connection instead of answering (the write happened; the client cannot know), or cuts an answer
/// short. Which request gets which fault comes from a seeded generator, so a failure replays.
final class FaultProxy: Sendable {
    enum Fault: String, CaseIterable, Sendable {
        case pass, unavailable, dropBeforeForwarding, dropAfterForwarding, truncateResponse
    }

    struct Policy: Sendable {
        /// Share of requests that get a fault.
        var faultRate = 0.0
        /// Every request answered 503: the store is down.
        var down = false
    }

    private struct State {
        var policy = Policy()
        var random: UInt64
        var counts: [Fault: Int] = [:]
    }

    private let state: Mutex<State>
    private let upstream: URL
    private let server: Channel
    let endpoint: URL

    private init(upstream: URL, seed: UInt64, server: Channel) {
        self.upstream = upstream
        self.server = server
        self.state = Mutex(State(random: seed))
        self.endpoint = URL(string: "http://127.0.0.1:\(server.localAddress!.port!)")!
    }

    static func start(upstream: URL, seed: UInt64) async throws -> FaultProxy {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let proxy = FaultProxy(upstream: upstream, seed: seed, server: listener.channel)
        Task {
            try? await listener.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { try? await proxy.serve(connection) }
                    }
                }
            }
        }
        return proxy
    }

    func set(_ policy: Policy) { state.withLock { $0.policy = policy } }

    func count(_ fault: Fault) -> Int { state.withLock { $0.counts[fault, default: 0] } }

    func close() async { try? await server.close() }

    private func nextFault() -> Fault {
        state.withLock { state in
            let fault: Fault
            if state.policy.down {
                fault = .unavailable
            } else {
                var mix = SplitMix(seed: state.random)
                state.random = mix.next()
                let roll = Double(mix.next() % 1_000_000) / 1_000_000
                if roll >= state.policy.faultRate {
                    fault = .pass
                } else {
                    let faults = Fault.allCases.filter { $0 != .pass }
                    fault = faults[Int(mix.next() % UInt64(faults.count))]
                }
            }
            state.counts[fault, default: 0] += 1
            return fault
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async throws {
        // Returning from the closure closes the connection: that is how faults drop it.
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let request):
                    head = request
                    body.clear()
                case .body(var chunk):
                    body.writeBuffer(&chunk)
                case .end:
                    guard let request = head else { return }
                    switch nextFault() {
                    case .dropBeforeForwarding:
                        return
                    case .unavailable:
                        let text = "<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>"
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: .serviceUnavailable,
                                                                        headers: ["Content-Length": "\(text.utf8.count)"])))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: text))))
                        try await outbound.write(.end(nil))
                    case .dropAfterForwarding:
                        _ = try await forward(request, body)
                        return
                    case .truncateResponse:
                        let (status, headers, answer) = try await forward(request, body)
                        guard answer.readableBytes > 1 else { return }
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(answer.getSlice(at: answer.readerIndex, length: answer.readableBytes / 2)!)))
                        return
                    case .pass:
                        let (status, headers, answer) = try await forward(request, body)
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                        if answer.readableBytes > 0 { try await outbound.write(.body(.byteBuffer(answer))) }
                        try await outbound.write(.end(nil))
                    }
                }
            }
        }
    }

    /// Sends the request on unchanged, Host header included: the client signed it (SigV4) for the
    /// proxy's address, and SeaweedFS checks the signature against that header.
    private func forward(_ request: HTTPRequestHead, _ body: ByteBuffer) async throws -> (HTTPResponseStatus, HTTPHeaders, ByteBuffer) {
        var outgoing = HTTPClientRequest(url: upstream.absoluteString + request.uri)
        outgoing.method = request.method
        for (name, value) in request.headers where name.lowercased() != "connection" { outgoing.headers.add(name: name, value: value) }
        if request.method == .PUT || body.readableBytes > 0 { outgoing.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(outgoing, timeout: .seconds(60))
        let answer = request.method == .HEAD ? ByteBuffer() : try await response.body.collect(upTo: 1 << 30)
        var headers = response.headers
        headers.remove(name: "Transfer-Encoding")
        headers.remove(name: "Connection")
        if request.method != .HEAD { headers.replaceOrAdd(name: "Content-Length", value: "\(answer.readableBytes)") }
        return (response.status, headers, answer)
    }
}
