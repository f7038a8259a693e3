import Foundation
import HearthAgent
import HearthControlPlane
import HearthCore
import HearthHost
import HearthServer
import HearthServerTestKit
import HearthStore
import HearthTestKit
import HummingbirdTesting
import Testing

/// `hearth-sync` inside a workspace (issue 16), end to end on the real agent: the command's own
/// client, the agent's relay and socket, the wire's `syncChannel`, and the server's commit. The
/// in-process runtime cannot give each workspace its own abstract socket namespace, so each test
/// serves the workspace's relay on a socket of its own; on gVisor, `WorkspaceCommitTests` runs the
/// command itself inside the sandbox.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GuestSyncTests {
    typealias Harness = DurableHarness

    static func harness(store: Bool = true) async throws -> Harness {
        try await DurableHarness.start("hearth-guest-sync", store: store)
    }

    /// Runs the server's `GuestSyncService` around `body`, then stops it.
    static func serving<T: Sendable>(_ harness: Harness, _ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await GuestSyncService(manager: harness.service.manager).run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// The workspace's relay served on a socket of this test's own, and that socket's name.
    static func listen(_ harness: Harness, workspace id: String) throws -> (socket: String, fd: Int32) {
        let relay = try #require(harness.runtime.guestSyncRelay(of: id))
        let socket = "@hearth-sync-test-\(UUID().uuidString.prefix(12))"
        let fd = GuestSyncCommand.listen(path: socket, relay: relay)
        try #require(fd >= 0)
        return (socket, fd)
    }

    static func stopListening(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// `hearth-sync` as a workspace process runs it: blocking, so on a thread of its own.
    static func hearthSync(_ socket: String, timeout: Int = 30) async -> GuestSyncCommand.Answer {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: GuestSyncCommand.request(socket: socket, timeoutSeconds: timeout, flush: false)) }.start()
        }
    }

    static func create(_ client: some TestClientProtocol, _ harness: Harness, name: String) async throws -> String {
        let created = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: harness.admin, json: #"{"name":"\#(name)"}"#)
        #expect(created.status == 201, "\(created.body)")
        return try ProcessRuntimeRouterTests.workspace(created.body).id
    }

    @Test func hearthSyncAnswersWithTheGenerationThatHoldsWhatWasWrittenBeforeIt() async throws {
        let harness = try await Self.harness()
        try await Self.serving(harness) {
            try await harness.service.application().test(.router) { client in
                let id = try await Self.create(client, harness, name: "inside")
                let (socket, fd) = try Self.listen(harness, workspace: id)
                defer { Self.stopListening(fd) }
                let root = harness.data + "/workspaces/\(id)/workspace"

                try "before the barrier".write(toFile: root + "/notes.txt", atomically: false, encoding: .utf8)
                guard case .generation(let first) = await Self.hearthSync(socket) else {
                    Issue.record("hearth-sync did not answer with a generation")
                    return
                }
                let (_, keys) = try DurableWorkspaceTests.keys(harness.data)
                let volume = try await keys.openWorkspace(id, tenant: Tenancy.defaultTenantID)
                let restored = harness.data + "/restored-\(first)"
                _ = try await volume.restore(generation: first, to: URL(fileURLWithPath: restored))
                #expect(try String(contentsOfFile: restored + "/notes.txt", encoding: .utf8) == "before the barrier")

                // Many callers at once after one more write: every one is answered with a
                // generation that holds it, by a commit or two rather than one each.
                try "second".write(toFile: root + "/more.txt", atomically: false, encoding: .utf8)
                let answers = await withTaskGroup(of: GuestSyncCommand.Answer.self) { group in
                    for _ in 0..<16 { group.addTask { await Self.hearthSync(socket) } }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                let generations = answers.compactMap { answer -> UInt64? in
                    if case .generation(let g) = answer { return g } else { return nil }
                }
                #expect(generations.count == 16, "\(answers)")
                #expect(generations.allSatisfy { $0 > first })

                let listed = try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(id)/generations", token: harness.admin)
                let history = try #require(try DurableWorkspaceTests.object(listed.body)["generations"] as? [[String: Any]])
                #expect(history.map { $0["trigger"] as? String } == ["guest", "guest"], "\(listed.body)")
                let shown = try DurableWorkspaceTests.object(try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(id)", token: harness.admin).body)
                #expect(shown["durable_generation"] as? Int == Int(generations.max() ?? 0))
            }
            await harness.service.manager.detachAll()
        }
    }

    /// A caller whose request the host never saw (the channel went with a pause) is asked for
    /// again on the next channel, and answered after the resume.
    @Test func aCallerWaitingThroughAPauseIsAnsweredAfterTheResume() async throws {
        let harness = try await Self.harness()
        try await Self.serving(harness) {
            try await harness.service.application().test(.router) { client in
                let id = try await Self.create(client, harness, name: "paused")
                let (socket, fd) = try Self.listen(harness, workspace: id)
                defer { Self.stopListening(fd) }
                let relay = try #require(harness.runtime.guestSyncRelay(of: id))
                let paused = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/pause", token: harness.admin)
                #expect(paused.status == 200, "\(paused.body)")

                async let answer = Self.hearthSync(socket)
                #expect(try await eventually { relay.waitingCallers == 1 }, "the caller waits while no host listens")
                let resumed = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/resume", token: harness.admin)
                #expect(resumed.status == 200, "\(resumed.body)")
                guard case .generation = await answer else {
                    Issue.record("the waiting caller was not answered after the resume")
                    return
                }
                #expect(relay.waitingCallers == 0)
            }
            await harness.service.manager.detachAll()
        }
    }

    @Test func aServerWithoutAStoreAnswersEveryCallerWithTheReason() async throws {
        let harness = try await Self.harness(store: false)
        try await Self.serving(harness) {
            try await harness.service.application().test(.router) { client in
                let id = try await Self.create(client, harness, name: "plain")
                let (socket, fd) = try Self.listen(harness, workspace: id)
                defer { Self.stopListening(fd) }
                let answer = await Self.hearthSync(socket)
                guard case .refused(let message) = answer else {
                    Issue.record("expected a refusal, got \(answer)")
                    return
                }
                #expect(message.contains("no durable store"), "\(message)")
            }
            await harness.service.manager.detachAll()
        }
    }

    /// A guest cannot make its requests cheap by making them fail: a refusal spaces the next
    /// request as a commit does (`guestSyncSpacing`).
    @Test func refusalsAreSpacedLikeCommits() async throws {
        let harness = try await Self.harness(store: false)
        try await Self.serving(harness) {
            try await harness.service.application().test(.router) { client in
                let id = try await Self.create(client, harness, name: "spaced")
                let (socket, fd) = try Self.listen(harness, workspace: id)
                defer { Self.stopListening(fd) }
                let firstAnswer = await Self.hearthSync(socket)
                let first = ContinuousClock.now
                let secondAnswer = await Self.hearthSync(socket)
                #expect(firstAnswer == .refused("this server keeps no durable store") && secondAnswer == firstAnswer, "\(firstAnswer) \(secondAnswer)")
                #expect(ContinuousClock.now - first >= .milliseconds(900), "the second refusal came without the spacing")
            }
            await harness.service.manager.detachAll()
        }
    }

    /// Callers beyond the relay's bound are refused at once instead of holding a thread each, and
    /// a caller that gives up withdraws its ticket.
    @Test func theRelayBoundsItsCallersAndForgetsThoseThatLeave() async throws {
        let relay = GuestSyncRelay()  // no host channel: every caller waits
        let socket = "@hearth-sync-test-\(UUID().uuidString.prefix(12))"
        let fd = GuestSyncCommand.listen(path: socket, relay: relay)
        try #require(fd >= 0)
        defer { Self.stopListening(fd) }
        let waiting = (0..<GuestSyncRelay.maxWaiting).map { _ in Self.openCaller(socket) }
        #expect(try await eventually { relay.waitingCallers == GuestSyncRelay.maxWaiting })
        let refused = await Self.hearthSync(socket, timeout: 10)
        #expect(refused == .refused("too many hearth-sync calls are waiting"))
        for caller in waiting { close(caller) }
        #expect(try await eventually { relay.waitingCallers == 0 }, "callers that left are forgotten")
        let timedOut = await Self.hearthSync(socket, timeout: 1)
        #expect(timedOut == .refused("no answer within 1 s (is the server running?)"))
    }

    /// A raw connection to the sync socket that asks and then just holds on.
    static func openCaller(_ name: String) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8.dropFirst())
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            path[0] = 0
            for (i, byte) in bytes.enumerated() { path[i + 1] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
        return fd
    }
}
