import Foundation
import HearthCore
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// Issue 14, slow readers: since protocol version 5 an agent → host stream starts with a small
/// window, so a stalled reader holds little, and grows it for a reader that keeps up.
@Suite(.timeLimit(.minutes(2))) struct AgentWindowTests {
    /// A file of `bytes` bytes that are not a short repeating pattern, written in bulk.
    static func bigFile(_ bytes: Int) throws -> (path: String, content: [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        var content = [UInt8](repeating: 0, count: bytes)
        content.withUnsafeMutableBytes { raw in
            for offset in stride(from: 0, to: raw.count - 7, by: 8) { raw.storeBytes(of: generator.next() as UInt64, toByteOffset: offset, as: UInt64.self) }
        }
        let path = NSTemporaryDirectory() + "hearth-window-\(UUID().uuidString)"
        try Data(content).write(to: URL(fileURLWithPath: path))
        return (path, content)
    }

    /// A raw peer greeted as an agent of `version`, with the secret proved.
    static func greetedRawPeer(version: Int) async throws -> (AgentConnection, peer: Int32) {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        let secret = InProcessAgent.randomSecret()
        async let greeted = host.handshake(secret: secret, timeout: .seconds(5))
        var decoder = FrameDecoder()
        guard let hello = try await RawPeer.receive(peer, decoder: &decoder), hello.kind == .hello,
              let challenge = try WireCoding.decode(Hello.self, from: hello.payload).challenge else {
            close(peer)
            throw HearthError(.agentProtocol, "no hello from the host")
        }
        await RawPeer.send(peer, [.hello(Hello(version: version, agent: "raw", session: "s",
                                                proof: AgentAuthentication.proof(secret: secret, challenge: challenge)))])
        _ = try await greeted
        return (host, peer)
    }

    /// Takes events until the agent's stat answer, as the file route does.
    static func awaitStat(_ stream: HostStream) async throws {
        for try await event in stream {
            if case .control(.result(.file)) = event { return }
            if case .control(.failed(let error)) = event { throw AgentError(error) }
        }
        Issue.record("the read ended before its stat")
    }

    @Test func aStalledReaderHoldsOnlyTheStartWindow() async throws {
        let (path, _) = try Self.bigFile(4 * 1024 * 1024)
        defer { unlink(path) }
        let connection = try await InProcessAgent.connect()
        defer { connection.close() }
        #expect(connection.peer?.version == WireVersion.current)
        let stream = try await connection.open(.readFile(path: path, offset: nil, length: nil))
        defer { stream.close() }
        try await Self.awaitStat(stream)
        // The reader stops here. The agent sends its start window and waits for credit.
        #expect(try await eventually { stream.buffered.bytes == WireLimits.agentStartWindow })
        #expect(stream.receiveWindow == WireLimits.agentStartWindow)
        // A round trip on the same connection: had the agent sent beyond its credit, the host would
        // have closed the connection for it before this answer.
        guard case .health = try await connection.call(.health) else { Issue.record("no health answer"); return }
        #expect(!connection.isClosed)
        #expect(stream.buffered.bytes == WireLimits.agentStartWindow)
    }

    @Test func aReaderThatKeepsUpGetsTheWholeWindow() async throws {
        let (path, content) = try Self.bigFile(16 * 1024 * 1024)
        defer { unlink(path) }
        let connection = try await InProcessAgent.connect()
        defer { connection.close() }
        let stream = try await connection.open(.readFile(path: path, offset: nil, length: nil))
        defer { stream.close() }
        try await Self.awaitStat(stream)
        var received: [UInt8] = []
        var largestEvent = 0
        for try await event in stream {
            if case .data(_, let bytes) = event {
                received += bytes
                largestEvent = max(largestEvent, bytes.count)
            }
            if case .eof = event { break }
        }
        #expect(received == content)
        // The first doubling is certain (at the start window each frame is the whole window, so
        // every take empties the buffer); how far it grows after that depends on scheduling, which
        // `theWindowGrowsForAReaderThatKeepsUp` pins down with a raw peer.
        #expect(stream.receiveWindow > WireLimits.agentStartWindow)
        #expect(largestEvent > WireLimits.agentStartWindow, "frames as large as the grown window allows")
        #expect(!connection.isClosed)
    }

    /// A stream relayed to an HTTP client keeps the start window however fast it is read, so a
    /// client that reads fast until the kernel's buffer is full and then stops holds only that.
    @Test func aRelayedStreamKeepsTheStartWindow() async throws {
        let (path, content) = try Self.bigFile(4 * 1024 * 1024)
        defer { unlink(path) }
        let connection = try await InProcessAgent.connect()
        defer { connection.close() }
        let stream = try await connection.open(.readFile(path: path, offset: nil, length: nil), maxWindow: HostStream.relayWindow)
        defer { stream.close() }
        try await Self.awaitStat(stream)
        var received: [UInt8] = []
        for try await event in stream {
            if case .data(_, let bytes) = event { received += bytes }
            if case .eof = event { break }
            #expect(stream.buffered.bytes <= HostStream.relayWindow)
        }
        #expect(received == content)
        #expect(stream.receiveWindow == HostStream.relayWindow)
    }

    /// A guest that says it speaks version 5 gets the small window, and sending beyond it is a
    /// violation, as sending beyond the large one always was.
    @Test func aVersionFiveGuestThatOverrunsTheStartWindowIsCut() async throws {
        let (host, peer) = try await Self.greetedRawPeer(version: WireVersion.growingWindows)
        defer { close(peer) }
        let reason = HostileGuestTests.Reason()
        host.onClose { reason.set($0) }
        let stream = try await host.open(.health)
        #expect(stream.receiveWindow == WireLimits.agentStartWindow)
        // Exactly the window is within credit.
        await RawPeer.send(peer, [.data(stream.id, .stdout, [UInt8](repeating: 1, count: WireLimits.agentStartWindow))])
        #expect(try await eventually { stream.buffered.bytes == WireLimits.agentStartWindow })
        #expect(!host.isClosed)
        // One byte more is not.
        await RawPeer.send(peer, [.data(stream.id, .stdout, [1])])
        let closed = try await HostileGuestTests().waitForClose(reason)
        #expect(closed?.code == .agentProtocol)
    }

    /// Step by step: the credit for an event goes back when the reader asks for the next one
    /// (what it holds counts against the window meanwhile); what is handed back is what was taken
    /// until four windows' worth, then that plus the growth; the grown window is accepted exactly,
    /// and a byte beyond it, counting what the reader holds, is cut. An agent of version 4 keeps the
    /// large window and is never grown.
    @Test func theWindowGrowsForAReaderThatKeepsUp() async throws {
        let (host, peer) = try await Self.greetedRawPeer(version: WireVersion.growingWindows)
        defer { close(peer) }
        let reason = HostileGuestTests.Reason()
        host.onClose { reason.set($0) }
        let stream = try await host.open(.health)
        var decoder = FrameDecoder()
        /// The reader's request for the next event, waiting (it gave back the last one's credit).
        var pending: Task<StreamEvent?, any Error>?
        defer { pending?.cancel() }
        /// Sends `size` bytes, takes them on the host, asks for the next event, and returns the
        /// credit the host handed back.
        func roundTrip(_ size: Int) async throws -> UInt32? {
            await RawPeer.send(peer, [.data(stream.id, .stdout, [UInt8](repeating: 7, count: size))])
            let event: StreamEvent?
            if let pending { event = try await pending.value } else { event = try await stream.next() }
            guard case .data(_, let bytes)? = event, bytes.count == size else { return nil }
            // Taken but not yet done with: no credit goes back until the next request.
            #expect(stream.buffered.bytes == 0)
            pending = Task { try await stream.next() }
            while let frame = try await RawPeer.receive(peer, decoder: &decoder) {
                if frame.kind == .window, frame.stream == stream.id { return try frame.windowIncrement() }
            }
            return nil
        }
        let start = WireLimits.agentStartWindow
        for _ in 0..<3 { #expect(try await roundTrip(start) == UInt32(start)) }
        // The fourth window's worth, taken with the buffer empty: credit for it plus the growth.
        #expect(try await roundTrip(start) == UInt32(2 * start))
        #expect(stream.receiveWindow == 2 * start)
        // The grown window, whole, is accepted (in frames of at most a frame's payload).
        let grown = 2 * start
        await RawPeer.send(peer, stride(from: 0, to: grown, by: WireLimits.maxDataChunk).map {
            Frame.data(stream.id, .stdout, [UInt8](repeating: 8, count: min(WireLimits.maxDataChunk, grown - $0)))
        })
        // The waiting request takes the first frame and holds it: the rest is queued.
        guard case .data(_, let held)? = try await pending?.value else { Issue.record("no data"); return }
        pending = nil
        #expect(held.count == min(grown, WireLimits.maxDataChunk))
        #expect(try await eventually { stream.buffered.bytes == grown - held.count })
        #expect(!host.isClosed)
        await RawPeer.send(peer, [.data(stream.id, .stdout, [1])])
        #expect(try await HostileGuestTests().waitForClose(reason)?.code == .agentProtocol)

        // Version 4: the old window, and no growth however much is taken.
        let (old, oldPeer) = try await Self.greetedRawPeer(version: WireVersion.growingWindows - 1)
        defer { close(oldPeer); old.close() }
        let oldStream = try await old.open(.health)
        #expect(oldStream.receiveWindow == WireLimits.initialWindow)
        for _ in 0..<4 {
            await RawPeer.send(oldPeer, [.data(oldStream.id, .stdout, [UInt8](repeating: 9, count: WireLimits.maxDataChunk))])
            _ = try await oldStream.next()
        }
        #expect(oldStream.receiveWindow == WireLimits.initialWindow)
    }
}
