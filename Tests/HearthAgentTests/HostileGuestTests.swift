import Foundation
import HearthCore
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// The host treats the guest as hostile: a bad frame closes that connection alone, with a reason.
@Suite(.timeLimit(.minutes(2))) struct HostileGuestTests {
    final class Reason: @unchecked Sendable {
        let lock = NSLock()
        var value: HearthError??
        func set(_ v: HearthError?) { lock.withLock { value = .some(v) } }
        func get() -> HearthError?? { lock.withLock { value } }
    }

    func waitForClose(_ reason: Reason) async throws -> HearthError? {
        for _ in 0..<200 {
            if let value = reason.get() { return value }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("connection did not close")
        return nil
    }

    @Test func garbageClosesOnlyThatConnection() async throws {
        let healthy = try await InProcessAgent.connect()
        defer { healthy.close() }
        let (hostile, peer) = try await InProcessAgent.connectToRawPeer()
        let reason = Reason()
        hostile.onClose { reason.set($0) }
        let garbage: [UInt8] = [0xFF, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3]
        _ = garbage.withUnsafeBytes { write(peer, $0.baseAddress, $0.count) }
        let closed = try await waitForClose(reason)
        #expect(closed?.code == .agentProtocol)
        #expect(hostile.isClosed)
        close(peer)
        guard case .health = try await healthy.call(.health) else { Issue.record(); return }
    }

    @Test func dataBeyondGrantedCreditIsAViolation() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        let reason = Reason()
        host.onClose { reason.set($0) }
        let stream = try await host.open(.health)
        // The host granted 256 KiB; send more than that without waiting for windows.
        var bytes: [UInt8] = []
        for _ in 0..<((WireLimits.initialWindow / WireLimits.maxDataChunk) + 2) {
            bytes += Frame.data(stream.id, .stdout, [UInt8](repeating: 1, count: WireLimits.maxDataChunk)).encoded()
        }
        _ = bytes.withUnsafeBytes { write(peer, $0.baseAddress, $0.count) }
        let closed = try await waitForClose(reason)
        #expect(closed?.code == .agentProtocol)
        await #expect(throws: (any Error).self) { _ = try await stream.next() }
    }

    @Test func aSilentAgentTimesOutTheHandshake() async throws {
        let (host, peer) = try await InProcessAgent.connectToRawPeer()
        defer { close(peer) }
        await #expect(throws: HearthError.self) { _ = try await host.handshake(secret: InProcessAgent.randomSecret(), timeout: .milliseconds(200)) }
        #expect(host.isClosed)
    }
}
