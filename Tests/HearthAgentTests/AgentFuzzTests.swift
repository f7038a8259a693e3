import Foundation
import HearthAgent
import HearthCore
import HearthRuntime
import HearthTestKit
import HearthWire
import Testing

/// Issue 14, finding 15 from the host's side: nothing the host sends makes the agent trap. The real
/// agent session reads random and half-valid frames; the test process (which runs it) must survive.
@Suite(.timeLimit(.minutes(3))) struct AgentFuzzTests {
    @Test func aReadAtAnOffsetBeyondOffTIsRefusedNotATrap() async throws {
        let agent = try await InProcessAgent.connect()
        defer { agent.close() }
        let path = NSTemporaryDirectory() + "fuzz-\(UUID().uuidString)"
        try "hello".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stream = try await agent.open(.readFile(path: path, offset: .max, length: .max))
        defer { stream.close() }
        var failure: WireError?
        do {
            for try await event in stream { if case .control(.failed(let error)) = event { failure = error } }
        } catch let error as AgentError {
            failure = error.wire
        }
        #expect(failure?.code == .invalidArgument)
        guard case .health = try await agent.call(.health) else { Issue.record(); return }
    }

    @Test func randomFramesFromTheHostNeverCrashTheAgent() async throws {
        var rng = HostileGuestFuzzTests.Generator(state: 0x4147_454E_5446_5A5A)
        let path = NSTemporaryDirectory() + "fuzz-\(UUID().uuidString)"
        try "some bytes".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let context = InProcessAgent.makeContext()
        signal(SIGPIPE, SIG_IGN)
        var sessions = 0
        for _ in 0..<400 {
            var fds: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { Issue.record("socketpair"); return }
            let done = DispatchSemaphore(value: 0)
            let guest = fds[1]
            Thread.detachNewThread {
                _ = AgentSession(socket: guest, context: context, mayProvision: true).run()
                done.signal()
            }
            var frames: [Frame] = [.hello(Hello(agent: "fuzz", session: "s", challenge: "c"))]
            for _ in 0..<50 {
                let stream = UInt32(1 + rng.next() % 4)
                switch rng.next() % 8 {
                case 0: frames.append(.open(stream, .readFile(path: path, offset: rng.next(), length: rng.next())))
                case 1: frames.append(.open(stream, .stat(path: path)))
                case 2: frames.append(.window(stream, UInt32(truncatingIfNeeded: rng.next())))
                case 3: frames.append(.control(stream, .resize(PTYSize(rows: .max, cols: .max))))
                case 4: frames.append(Frame(kind: .data, stream: stream, payload: (0..<Int(rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
                case 5: frames.append(.hello(Hello(version: Int(truncatingIfNeeded: rng.next()), agent: "", session: "", challenge: String(repeating: "x", count: Int(rng.next() % 100)))))
                case 6: frames.append(Frame(kind: Frame.Kind(rawValue: UInt8(1 + rng.next() % 10))!, stream: UInt32(truncatingIfNeeded: rng.next()),
                                            payload: (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
                default: frames.append(.reset(stream, nil))
                }
            }
            let host = fds[0]
            _ = fcntl(host, F_SETFL, fcntl(host, F_GETFL) | O_NONBLOCK)
            let drained = DispatchSemaphore(value: 0)
            // Drain what the agent answers until it ends the session, so it never blocks on us.
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                repeat { while read(host, &buffer, buffer.count) > 0 {} } while done.wait(timeout: .now() + .milliseconds(5)) == .timedOut
                drained.signal()
            }
            await RawPeer.send(host, frames)
            shutdown(host, Int32(SHUT_WR))
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread { drained.wait(); c.resume() }
            }
            close(host)
            sessions += 1
        }
        #expect(sessions == 400)
        // The agent whose sessions took all that still answers.
        let agent = try await InProcessAgent.connect()
        guard case .health = try await agent.call(.health) else { Issue.record(); return }
        agent.close()
    }
}
