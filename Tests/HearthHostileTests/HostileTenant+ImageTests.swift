import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// Review findings 1-3: images. A tenant names no host path, sees only its own and published
/// images, and cannot plant a digest; a workspace's links never redirect a host write.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HostileTenantImageTests {
    static let zeros = String(repeating: "0", count: 64)

    @Test func aMemberOrViewerCannotNameAHostPathOrImport() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let attempts = ["/", "/etc", server.dataDirectory, server.dataDirectory + "/images", "./x", "../x", "oci:anything", "oci:../../etc",
                        "sha256:\(Self.zeros)/../../workspaces", "sha256:../../etc", "sha256:" + Self.zeros.uppercased(), "file:///etc",
                        "sha256:\(Self.zeros),upperdir=/tmp", String(repeating: "a", count: 10_000)]
        for image in attempts {
            let body = String(decoding: try JSONEncoder().encode(["image": image]), as: UTF8.self)
            let member = try await evil.request(evil.memberToken, .POST, "/v1/workspaces", body: body)
            #expect([400, 403, 404].contains(member.status), "\(image.prefix(60)): \(member.status) \(member.body)")
            #expect(!member.body.contains(server.dataDirectory), "the answer names a host path: \(member.body)")
            let viewer = try await evil.request(evil.viewerToken, .POST, "/v1/workspaces", body: body)
            #expect(viewer.status == 403, "\(image.prefix(60)): viewer got \(viewer.status)")
        }
        #expect(try await evil.member.list().isEmpty)
        #expect(try await server.client.health().status == "ok")
    }

    @Test func anImportedImageIsTheOperatorsUntilShared() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let name = "private-\(UUID().uuidString.prefix(8).lowercased())"
        try ImageFixture.layout(at: server.dataDirectory + "/imports/" + name, marker: "operator's image")
        let mine = try await server.client.create(API.CreateWorkspaceBody(image: "oci:\(name)"))
        do {
            _ = try await evil.member.create(API.CreateWorkspaceBody(image: mine.image))
            Issue.record("another tenant used the operator's private image")
        } catch let failure as HearthClient.Failure {
            #expect(failure.code == "not_found")
        }
        try await server.client.delete(mine.id)
    }

    /// Finding 3: a layout whose index claims another image's digest (the base image's) but holds
    /// different bytes is refused, so the operator's later workspaces still get the real image.
    @Test func aPlantedDigestDoesNotPoisonTheImageCache() async throws {
        let server = try await LiveServer.shared.value
        let base = try await server.client.create(API.CreateWorkspaceBody())
        let claimed = try #require(base.image.split(separator: ":").last.map(String.init))
        let name = "planted-\(UUID().uuidString.prefix(8).lowercased())"
        let layout = server.dataDirectory + "/imports/" + name
        try ImageFixture.layout(at: layout, marker: "attacker")
        try ImageFixture.claim(layout, digest: claimed)
        do {
            _ = try await server.client.create(API.CreateWorkspaceBody(image: "oci:\(name)"))
            Issue.record("a manifest that does not match its digest was imported")
        } catch let failure as HearthClient.Failure {
            #expect(failure.code == "invalid_argument")
            #expect(failure.message.contains("does not match"))
        }
        let later = try await server.client.create(API.CreateWorkspaceBody(image: base.image))
        #expect(try await server.client.run(later.id, ["cat", "/etc/hearth-oci"]).code != 0)
        #expect(try await server.client.run(later.id, ["sh", "-c", "test -x /bin/bash"]).code == 0)
        for w in [base, later] { try await server.client.delete(w.id) }
    }

    /// Finding 2: a link the workspace makes at /etc does not point the host's (or runsc's)
    /// start-up at a host directory: neither an absolute host path nor the agent directory that
    /// every sandbox sees at /.hearth.
    @Test func aLinkInTheWorkspacesLayerDoesNotRedirectAHostWrite() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-target-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: target) }
        let agentDirectory = ProcessInfo.processInfo.environment["HEARTH_AGENT_DIR"] ?? ""
        let planted = "planted-\(UUID().uuidString.prefix(8))"
        for link in [target, "/.hearth/\(planted)"] {
            let w = try await evil.member.create(API.CreateWorkspaceBody(runtime: "gvisor"))
            // gVisor refuses to rename /etc (a lower directory: EXDEV) and to remove it whole (the
            // preload is a mount point in it), so the attack does what it can: empty /etc, then try
            // the link. Whatever part succeeds, nothing may land on the host.
            _ = try await evil.member.run(w.id, ["python3", "-c", """
                import os, shutil, sys
                shutil.rmtree('/etc', ignore_errors=True)
                try: os.symlink(sys.argv[1], '/etc')
                except OSError: os.symlink(sys.argv[1], '/etc/ld.so.preload.d')
                """, link])
            _ = try await evil.member.lifecycle(w.id, "stop")
            _ = try? await evil.member.lifecycle(w.id, "start")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty, "the host wrote through the workspace's link")
            #expect(!FileManager.default.fileExists(atPath: agentDirectory + "/" + planted), "runsc created a path in the agent directory")
            try await evil.member.delete(w.id)
        }
        #expect(try await server.client.health().status == "ok")
    }
}
