import Foundation
import HearthServer
import HearthServerTestKit
import HearthTestKit
import HTTPTypes
import Testing

/// Issue 16: a workspace with an idle timeout is paused once nobody has used it for that long;
/// use (an API call reaching its agent, terminal input) keeps it running. The clock is the test's.
@Suite(.serialized, .timeLimit(.minutes(2))) struct IdleTimeoutTests {
    static func server() async throws -> (HearthService, admin: String, data: String) {
        let data = ProcessHost.scratchDirectory("hearth-idle")
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        let service = try await ProcessHost.service(configuration, runtime: ProcessRuntime())
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return (service, admin, data)
    }

    /// `PATCH /v1/workspaces/{ws}` (`hearth set`) changes the timeout of a workspace that exists:
    /// the next pass of the idle service goes by the new one; 0 turns it off.
    @Test func anExistingWorkspacesTimeoutCanBeSetAndCleared() async throws {
        let (service, admin, _) = try await Self.server()
        let manager = service.manager
        try await service.application().test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> (status: Int, body: String) {
                try await ProcessRuntimeRouterTests.call(client, method, path, token: admin, json: json)
            }
            let start = Date()
            let w = try ProcessRuntimeRouterTests.workspace(try await call(.post, "/v1/workspaces", json: #"{"name":"later"}"#).body)
            #expect(w.idle_timeout_s == nil)
            #expect(await manager.pauseIdle(now: start.addingTimeInterval(100_000)).isEmpty, "no timeout: never paused")

            for bad in [#"{"idle_timeout_s":60}"#, #"{"commit_interval_s":5}"#] {
                let refused = try await call(.patch, "/v1/workspaces/\(w.id)", json: bad)
                #expect(refused.status == 400, "\(bad): \(refused.body)")
            }
            let set = try await call(.patch, "/v1/workspaces/\(w.id)", json: #"{"idle_timeout_s":600,"commit_interval_s":120}"#)
            #expect(set.status == 200, "\(set.body)")
            let shown = try ProcessRuntimeRouterTests.workspace(set.body)
            #expect(shown.idle_timeout_s == 600 && shown.commit_interval_s == 120)
            manager.noteActivity(w.id, at: start)
            #expect(await manager.pauseIdle(now: start.addingTimeInterval(599)).isEmpty)

            // Turned off again before it was due: never paused.
            let cleared = try ProcessRuntimeRouterTests.workspace(try await call(.patch, "/v1/workspaces/\(w.id)", json: #"{"idle_timeout_s":0}"#).body)
            #expect(cleared.idle_timeout_s == nil && cleared.commit_interval_s == 120, "only the field given changes")
            #expect(await manager.pauseIdle(now: start.addingTimeInterval(100_000)).isEmpty)
        }
        await manager.detachAll()
    }

    @Test func aWorkspaceIdleForItsTimeoutIsPausedAndUseKeepsItRunning() async throws {
        let (service, admin, _) = try await Self.server()
        let manager = service.manager
        try await service.application().test(.router) { client in
            for bad in [#"{"idle_timeout_s":60}"#, #"{"idle_timeout_s":604801}"#, #"{"idle_timeout_s":-5}"#] {
                let refused = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: bad)
                #expect(refused.status == 400, "\(bad): \(refused.body)")
                #expect(refused.body.contains("idle_timeout_s"))
            }
            let start = Date()
            let idle = try ProcessRuntimeRouterTests.workspace(
                try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"idle","idle_timeout_s":300}"#).body)
            let never = try ProcessRuntimeRouterTests.workspace(
                try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"name":"never"}"#).body)
            #expect(idle.idle_timeout_s == 300)
            #expect(never.idle_timeout_s == nil)

            // An exec is use.
            let exec = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(idle.id)/exec", token: admin,
                                                                 json: #"{"argv":["/bin/true"]}"#)
            #expect(exec.status == 200)
            #expect(manager.lastActivity(of: idle.id).map { $0 >= start } == true)

            // 299 s after it became running: not yet. Used at 200 s: not at 301 s either.
            #expect(await manager.pauseIdle(now: start.addingTimeInterval(299)).isEmpty)
            manager.noteActivity(idle.id, at: start.addingTimeInterval(200))
            #expect(await manager.pauseIdle(now: start.addingTimeInterval(301)).isEmpty)
            // 300 s after that use it is paused; the one without a timeout never is.
            #expect(await manager.pauseIdle(now: start.addingTimeInterval(501)) == [idle.id])
            let shown = try await ProcessRuntimeRouterTests.call(client, .get, "/v1/workspaces/\(idle.id)", token: admin)
            #expect(try ProcessRuntimeRouterTests.workspace(shown.body).state == "paused")
            #expect(await manager.pauseIdle(now: start.addingTimeInterval(10_000_000)).isEmpty)

            // Resumed, it runs on until it has idled again; then it is paused again.
            let resumed = try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(idle.id)/resume", token: admin)
            #expect(resumed.status == 200, "\(resumed.body)")
            #expect(await manager.pauseIdle(now: Date().addingTimeInterval(60)).isEmpty)
            #expect(await manager.pauseIdle(now: start.addingTimeInterval(200 + 300)) == [idle.id])
        }
        await manager.detachAll()
    }

    /// An exec that runs longer than the timeout is use for as long as it runs; its end counts as
    /// the last use.
    @Test func workUnderWayIsNotIdle() async throws {
        let (service, admin, data) = try await Self.server()
        let manager = service.manager
        try await service.application().test(.router) { client in
            let id = try ProcessRuntimeRouterTests.workspace(
                try await ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces", token: admin, json: #"{"idle_timeout_s":300}"#).body).id
            // The exec waits for a file the test makes once it has checked the idle pass.
            let gate = data + "/gate-\(UUID().uuidString)"
            async let exec = ProcessRuntimeRouterTests.call(client, .post, "/v1/workspaces/\(id)/exec", token: admin,
                                                            json: #"{"argv":["/bin/sh","-c","while [ ! -e \#(gate) ]; do sleep 0.05; done"]}"#)
            var running = false
            for _ in 0..<1000 where !running {
                running = manager.isInUse(id)
                if !running { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(running)
            #expect(await manager.pauseIdle(now: Date().addingTimeInterval(100_000)).isEmpty, "an exec under way is use")
            FileManager.default.createFile(atPath: gate, contents: nil)
            #expect(try await exec.status == 200)
            var ended = false
            for _ in 0..<1000 where !ended {
                ended = !manager.isInUse(id)
                if !ended { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(ended)
            let finished = Date()
            #expect(await manager.pauseIdle(now: finished.addingTimeInterval(250)).isEmpty, "its end was use")
            #expect(await manager.pauseIdle(now: finished.addingTimeInterval(301)) == [id])
        }
        await manager.detachAll()
    }
}
