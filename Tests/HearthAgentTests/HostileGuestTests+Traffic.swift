import Foundation
import HearthRuntime
import HearthTestKit
import HearthWire
import Synchronization
import Testing

/// The channel's byte counter under a guest's flood. Found by `HostileGuestQEMUTests`: the sink
/// was a closure kept straight in a generic `Mutex`, re-wrapped in thunks on every frame, so a
/// flood of small frames made each frame cost as many calls as frames before it and then
/// overflowed the event loop's stack (the server died of SIGSEGV). Before the fix this test hangs
/// (its time limit fails it) or crashes; after it, the frames are counted in seconds.
extension HostileGuestTests {
    @Test func aFloodOfSmallFramesIsCountedWithoutGrowingTheCounter() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        let received = Atomic<Int>(0)
        host.countTraffic { inbound, _ in received.add(inbound, ordering: .relaxed) }
        // 200,000 one-byte frames, within the stream's credit: legal, and before the fix a chain of
        // 400,000 thunks, deeper than the event loop's stack.
        let frames = 200_000
        let stream = try await host.open(.health)
        let frameBytes = Frame.headerSize + 2
        await RawPeer.send(peer, Frame.data(stream.id, .stdout, [0x41]).encoded().repeated(frames))
        let expected = frames * frameBytes
        #expect(try await eventually(within: 60) { received.load(ordering: .relaxed) == expected },
                "counted \(received.load(ordering: .relaxed)) of \(expected) bytes")
        #expect(!host.isClosed)
        host.close()
    }
}

private extension Array where Element == UInt8 {
    func repeated(_ times: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * times)
        for _ in 0..<times { out.append(contentsOf: self) }
        return out
    }
}
