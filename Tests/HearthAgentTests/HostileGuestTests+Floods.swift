import Foundation
import HearthCore
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// Issue 14, finding 6: every frame a guest sends costs it something, and what the host buffers
/// for a stream stays within its credit and a fixed number of events, however the guest slices it.
extension HostileGuestTests {
    @Test func emptyDataFramesCloseTheConnection() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        let reason = Reason()
        host.onClose { reason.set($0) }
        let stream = try await host.open(.health)
        // Today each of these queued an event and cost no credit: 54 MiB for one stream.
        await RawPeer.send(peer, [Frame](repeating: Frame(kind: .data, stream: stream.id, payload: [DataChannel.stdout.rawValue]), count: 1000))
        let closed = try await waitForClose(reason)
        #expect(closed?.code == .agentProtocol)
        #expect(stream.buffered.events == 0)
    }

    @Test func oneByteFramesCostOneBufferedEvent() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        let stream = try await host.open(.health)
        let count = WireLimits.maxCoalescedData
        await RawPeer.send(peer, (0..<count).flatMap { _ in Frame.data(stream.id, .stdout, [0x79]).encoded() })
        #expect(try await eventually { stream.buffered.bytes == count })
        #expect(stream.buffered.events == 1, "consecutive data on one channel is one event, up to maxCoalescedData")
        #expect(!host.isClosed)
        let event = try await stream.next()
        #expect(event == .data(.stdout, [UInt8](repeating: 0x79, count: count)))
        #expect(stream.buffered.bytes == 0)
        // The whole credit, a byte per frame: a bounded number of events. (The event taken is
        // still the reader's until it asks for the next, so its bytes are not credit yet.)
        let more = WireLimits.initialWindow - count
        await RawPeer.send(peer, (0..<more).flatMap { _ in Frame.data(stream.id, .stdout, [0x7a]).encoded() })
        #expect(try await eventually { stream.buffered.bytes == more })
        #expect(stream.buffered.events == more / WireLimits.maxCoalescedData)
        #expect(!host.isClosed)
        host.close()
    }

    @Test func interleavedChannelsStayWithinTheControlBound() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        let reason = Reason()
        host.onClose { reason.set($0) }
        let stream = try await host.open(.health)
        // stdout, stderr, stdout, … cannot be merged; eof frames between them count as controls.
        var frames: [Frame] = []
        for i in 0..<10_000 { frames.append(.data(stream.id, i % 2 == 0 ? .stdout : .stderr, [1])) ; if i % 2 == 1 { frames.append(.eof(stream.id, .stdin)) } }
        await RawPeer.send(peer, frames)
        let closed = try await waitForClose(reason)
        #expect(closed?.code == .agentProtocol)
    }

    @Test func unreadControlPayloadsAreBounded() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        let reason = Reason()
        host.onClose { reason.set($0) }
        let stream = try await host.open(.health)
        // Three controls of 200 KiB each: far under the 64-control cap, far over what a reply needs.
        let big = Frame.control(stream.id, .failed(WireError(.io, String(repeating: "x", count: 200 * 1024))))
        await RawPeer.send(peer, [big, big, big])
        let closed = try await waitForClose(reason)
        #expect(closed?.code == .agentProtocol)
    }

    @Test func zeroWindowsAndUnsolicitedGreetingsAreViolations() async throws {
        for frame in [Frame.window(1, 0), .hello(Hello(agent: "x", session: "y")), Frame(kind: .quiesced, stream: 0),
                      .provision([UInt8](repeating: 0, count: 32))] {
            let (host, peer) = try await InProcessAgent.connectToRawPeer()
            defer { close(peer) }
            let reason = Reason()
            host.onClose { reason.set($0) }
            _ = try await host.open(.health)
            await RawPeer.send(peer, [frame])
            let closed = try await waitForClose(reason)
            #expect(closed?.code == .agentProtocol, "\(frame.kind)")
        }
    }

    /// The largest numbers a guest can put in a reply decode without trapping; a window that would
    /// overflow the sender's credit closes the connection instead.
    @Test func extremeNumbersInRepliesDoNotTrap() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        let reason = Reason()
        host.onClose { reason.set($0) }
        let stat = try await host.open(.stat(path: "/x"))
        let huge = FileStat(name: "x", kind: .file, size: .max, mode: .max, mtime: .greatestFiniteMagnitude)
        await RawPeer.send(peer, [.control(stat.id, .result(.file(huge))), .control(stat.id, .result(.written(bytes: .max))),
                                  .control(stat.id, .exited(ExitStatus(code: .min, signal: .max))),
                                  .control(stat.id, .result(.ports([ListeningPort(port: .max, address: "", family: "")]))),
                                  .control(stat.id, .started(pid: .min))])
        #expect(try await stat.next() == .control(.result(.file(huge))))
        #expect(try await stat.next() == .control(.result(.written(bytes: .max))))
        #expect(try await stat.next() == .control(.exited(ExitStatus(code: .min, signal: .max))))
        // A number beyond its type is undecodable JSON: a violation, never a trap.
        await RawPeer.send(peer, [Frame(kind: .control, stream: stat.id, payload: Array(#"{"started":{"pid":4294967296}}"#.utf8))])
        #expect(try await waitForClose(reason)?.code == .agentProtocol)

        let (second, peer2) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer2) }
        let reason2 = Reason()
        second.onClose { reason2.set($0) }
        let stream = try await second.open(.health)
        await RawPeer.send(peer2, [.window(stream.id, .max), .window(stream.id, .max)])
        #expect(try await waitForClose(reason2)?.code == .agentProtocol)
    }
}
