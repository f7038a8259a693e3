import Foundation
@testable import HearthControlPlane
import HearthCore
import HearthHost
import HearthServer
import HearthServerTestKit
import HearthStore
import HearthTestKit
import HTTPTypes
import HummingbirdTesting
import Testing

/// Rolling a workspace back to a generation (issue 16) through the router, on the in-process
/// runtime: the whole state is put back, the result is a new generation, and nothing in the
/// history is lost. `WorkspaceCommitTests` does it on a real gVisor workspace.
@Suite(.serialized, .timeLimit(.minutes(2))) struct RollbackTests {
    @Test func aStoppedWorkspaceGoesBackToAGenerationAndTheRollbackIsItselfAGeneration() async throws {
        let harness = try await DurableHarness.start("hearth-rollback")
        let (service, data) = (harness.service, harness.data)
        try await service.application().test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> (status: Int, body: String) {
                try await harness.call(client, method, path, json: json)
            }
            let created = try await call(.post, "/v1/workspaces", json: #"{"name":"travel"}"#)
            let id = try ProcessRuntimeRouterTests.workspace(created.body).id
            let root = data + "/workspaces/\(id)/workspace"
            func read(_ name: String) -> String? { try? String(contentsOfFile: root + "/" + name, encoding: .utf8) }

            try "first".write(toFile: root + "/notes.txt", atomically: false, encoding: .utf8)
            try "kept".write(toFile: root + "/a.txt", atomically: false, encoding: .utf8)
            #expect(try DurableWorkspaceTests.object(try await call(.post, "/v1/workspaces/\(id)/sync").body)["generation"] as? Int == 1)
            try "second".write(toFile: root + "/notes.txt", atomically: false, encoding: .utf8)
            try FileManager.default.removeItem(atPath: root + "/a.txt")
            try "new".write(toFile: root + "/b.txt", atomically: false, encoding: .utf8)
            #expect(try DurableWorkspaceTests.object(try await call(.post, "/v1/workspaces/\(id)/sync").body)["generation"] as? Int == 2)

            // Only a stopped workspace: a running one keeps its files as they are.
            let running = try await call(.post, "/v1/workspaces/\(id)/rollback", json: #"{"generation":1}"#)
            #expect(running.status == 409 && running.body.contains("stop the workspace"), "\(running.body)")
            #expect(read("notes.txt") == "second")
            #expect(try await call(.post, "/v1/workspaces/\(id)/stop").status == 200)

            // A generation that does not exist, and a body that is not one, change nothing.
            let missing = try await call(.post, "/v1/workspaces/\(id)/rollback", json: #"{"generation":99}"#)
            #expect(missing.status == 404, "\(missing.body)")
            #expect(try await call(.post, "/v1/workspaces/\(id)/rollback", json: #"{"generation":-1}"#).status == 400)
            #expect(read("notes.txt") == "second" && read("b.txt") == "new")

            let back = try await call(.post, "/v1/workspaces/\(id)/rollback", json: #"{"generation":1}"#)
            #expect(back.status == 200, "\(back.body)")
            let backGeneration = try DurableWorkspaceTests.object(back.body)["generation"] as? Int
            #expect(backGeneration == 3)
            #expect(read("notes.txt") == "first" && read("a.txt") == "kept" && read("b.txt") == nil)

            // History is kept: the rollback is generation 3, and rolling back to 2 undoes it.
            let listed = try await call(.get, "/v1/workspaces/\(id)/generations")
            let history = try #require(try DurableWorkspaceTests.object(listed.body)["generations"] as? [[String: Any]])
            #expect(history.map { $0["trigger"] as? String } == ["sync", "sync", "rollback"], "\(listed.body)")
            #expect(try await call(.post, "/v1/workspaces/\(id)/rollback", json: #"{"generation":2}"#).status == 200)
            #expect(read("notes.txt") == "second" && read("a.txt") == nil && read("b.txt") == "new")

            // It starts as it was left.
            #expect(try await call(.post, "/v1/workspaces/\(id)/start").status == 200)
            let shown = try await call(.get, "/v1/workspaces/\(id)/files/content?path=\(root)/notes.txt")
            #expect(shown.body == "second", "\(shown.status) \(shown.body)")
        }
        await service.manager.detachAll()
    }

    @Test func aForkStartsAsAGenerationOfItsSourceAndLeavesNothingWhenItFails() async throws {
        let harness = try await DurableHarness.start("hearth-fork")
        let (service, data) = (harness.service, harness.data)
        try await service.application().test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> (status: Int, body: String) {
                try await harness.call(client, method, path, json: json)
            }
            let source = try ProcessRuntimeRouterTests.workspace(try await call(.post, "/v1/workspaces", json: #"{"name":"source"}"#).body).id
            let sourceRoot = data + "/workspaces/\(source)/workspace"
            try "first".write(toFile: sourceRoot + "/notes.txt", atomically: false, encoding: .utf8)
            #expect(try await call(.post, "/v1/workspaces/\(source)/sync").status == 200)
            try "second".write(toFile: sourceRoot + "/notes.txt", atomically: false, encoding: .utf8)

            let forked = try await call(.post, "/v1/workspaces/\(source)/fork", json: #"{"generation":1,"name":"copy"}"#)
            #expect(forked.status == 201, "\(forked.body)")
            let copy = try ProcessRuntimeRouterTests.workspace(forked.body)
            #expect(copy.state == "running")
            #expect(try String(contentsOfFile: data + "/workspaces/\(copy.id)/workspace/notes.txt", encoding: .utf8) == "first")
            #expect(try String(contentsOfFile: sourceRoot + "/notes.txt", encoding: .utf8) == "second", "the source is untouched")
            let history = try await call(.get, "/v1/workspaces/\(copy.id)/generations")
            #expect(try (DurableWorkspaceTests.object(history.body)["generations"] as? [[String: Any]])?.map { $0["trigger"] as? String } == ["fork"],
                    "\(history.body)")

            // Without a generation: the source's state now.
            let now = try await call(.post, "/v1/workspaces/\(source)/fork", json: #"{}"#)
            #expect(now.status == 201, "\(now.body)")
            let latest = try ProcessRuntimeRouterTests.workspace(now.body)
            #expect(try String(contentsOfFile: data + "/workspaces/\(latest.id)/workspace/notes.txt", encoding: .utf8) == "second")

            // A generation the source does not have, or a bad name: refused, and nothing left behind.
            let count = try await call(.get, "/v1/workspaces").body.components(separatedBy: "\"id\"").count
            #expect(try await call(.post, "/v1/workspaces/\(source)/fork", json: #"{"generation":99}"#).status == 404)
            #expect(try await call(.post, "/v1/workspaces/\(source)/fork", json: #"{"name":"Not A Name"}"#).status == 400)
            #expect(try await call(.get, "/v1/workspaces").body.components(separatedBy: "\"id\"").count == count)
        }
        await service.manager.detachAll()
    }

    /// One file put back by the server, with its mode (the web IDE and the CLI use this route).
    @Test func aFileIsPutBackWithItsModeByTheServer() async throws {
        let harness = try await DurableHarness.start("hearth-restore-file")
        let (service, data) = (harness.service, harness.data)
        try await service.application().test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> (status: Int, body: String) {
                try await harness.call(client, method, path, json: json)
            }
            let id = try ProcessRuntimeRouterTests.workspace(try await call(.post, "/v1/workspaces", json: #"{"name":"files"}"#).body).id
            let root = data + "/workspaces/\(id)/workspace"
            try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
            try "#!/bin/sh\necho tool\n".write(toFile: root + "/bin/tool", atomically: false, encoding: .utf8)
            #expect(chmod(root + "/bin/tool", 0o750) == 0)
            #expect(try await call(.post, "/v1/workspaces/\(id)/sync").status == 200)
            try "broken".write(toFile: root + "/bin/tool", atomically: false, encoding: .utf8)
            #expect(chmod(root + "/bin/tool", 0o600) == 0)

            // `/bin/tool` inside the layer; the in-process runtime maps it into the workspace's
            // directory (its agent sees the host's paths), as gVisor maps it to the guest's root.
            let restored = try await call(.post, "/v1/workspaces/\(id)/generations/1/restore", json: #"{"path":"/bin/tool"}"#)
            #expect(restored.status == 200, "\(restored.body)")
            #expect(try DurableWorkspaceTests.object(restored.body)["mode"] as? Int == 0o750)
            #expect(try String(contentsOfFile: root + "/bin/tool", encoding: .utf8) == "#!/bin/sh\necho tool\n")
            var info = stat()
            #expect(lstat(root + "/bin/tool", &info) == 0 && info.st_mode & 0o7777 == 0o750)
            let dirs = try await call(.post, "/v1/workspaces/\(id)/generations/1/restore", json: #"{"path":"/bin"}"#)
            #expect(dirs.status == 400 && dirs.body.contains("only a regular file"), "\(dirs.body)")
            let missing = try await call(.post, "/v1/workspaces/\(id)/generations/1/restore", json: #"{"path":"/bin/nothing"}"#)
            #expect(missing.status == 404, "\(missing.body)")
            #expect(try await call(.post, "/v1/workspaces/\(id)/stop").status == 200)
            let stopped = try await call(.post, "/v1/workspaces/\(id)/generations/1/restore", json: #"{"path":"/bin/tool"}"#)
            #expect(stopped.status == 409, "\(stopped.body)")
        }
        await service.manager.detachAll()
    }

    /// A server that stops while a fork restores leaves a `creating` row whose layer may be partial:
    /// the next start fails it, rather than offering it as a fresh workspace.
    @Test func aForkCutShortByACrashIsFailedAtTheNextStart() async throws {
        let harness = try await DurableHarness.start("hearth-fork-crash")
        let manager = harness.service.manager
        let now = Date()
        let cut = WorkspaceRecord(id: Workspace.newID(), tenantId: Tenancy.defaultTenantID, name: "cut", runtime: .process, image: "sha256:none",
                                  imageRootfs: "", state: .creating, cpus: 1, memoryMiB: 512, diskMiB: nil, pooled: false,
                                  failure: WorkspaceManager.forkInterrupted, createdAt: now, updatedAt: now)
        // The server's own database, opened beside it (the manager's store is its actor's).
        let store = try WorkspaceStore(path: harness.data + "/hearth.sqlite")
        try store.insert(cut)
        #expect(try store.find(cut.id)?.workspace.failure == nil, "no failure is shown while it is being made")
        let report = await manager.reconcile()
        #expect(report.failed.contains(cut.id))
        let after = try store.find(cut.id)
        #expect(after?.state == .failed && after?.workspace.failure == WorkspaceManager.forkInterrupted)
    }
}
