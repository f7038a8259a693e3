import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import NIOCore
import NIOHTTP1
import Testing

/// An editor saves with `if_mtime` (the version it opened). Two saves of the same version must
/// not both win: the route used to stat the file on the host side and then write, so both
/// could pass the check before either replaced the file. The agent now checks under the lock it
/// renames under. Needs a real sandbox: the guest agent's rename lock is what is being proven,
/// in gVisor and in a microVM (the agent of its initramfs).
@Suite(.serialized, .timeLimit(.minutes(5))) struct ConditionalSaveRaceTests {
    static func save(_ server: LiveServer, _ ws: String, _ path: String, mtime: Double, _ body: [UInt8]) async throws -> Int {
        var request = HTTPClientRequest(url: server.url + "/v1/workspaces/\(ws)/files/content?path=\(path)&if_mtime=\(mtime)")
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(server.token)")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    @Test(arguments: ["gvisor", "qemu"]) func twoConcurrentSavesOfTheSameVersionCannotBothWin(runtime: String) async throws {
        let server = try await LiveServer.shared.value
        let w = try await server.client.create(API.CreateWorkspaceBody(name: "save-race-\(runtime)", runtime: runtime, memory_mib: 256))
        #expect(w.runtime == runtime)
        let path = "/workspace/race.txt"
        try await server.client.upload(w.id, path: path, length: 4, body: LiveServer.chunks(Array("v0\n\n".utf8)))
        for round in 0..<8 {
            let version = try await server.client.stat(w.id, path: path).mtime
            // Large enough that both uploads are in flight at once.
            let a = [UInt8](repeating: UInt8(ascii: "a"), count: 256 * 1024) + Array("round \(round)\n".utf8)
            let b = [UInt8](repeating: UInt8(ascii: "b"), count: 256 * 1024) + Array("round \(round)\n".utf8)
            async let first = Self.save(server, w.id, path, mtime: version, a)
            async let second = Self.save(server, w.id, path, mtime: version, b)
            let statuses = try await [first, second]
            #expect(statuses.sorted() == [201, 409], "round \(round): \(statuses)")
            var content: [UInt8] = []
            try await server.client.download(w.id, path: path) { content += $0.readableBytesView }
            let winner = statuses[0] == 201 ? a : b
            #expect(content == winner, "round \(round): the file is the winner's whole upload")
        }
        // A save of a version that is no longer current is refused; of the current one, accepted.
        let stale = try await Self.save(server, w.id, path, mtime: 1, Array("stale\n".utf8))
        #expect(stale == 409)
        let current = try await server.client.stat(w.id, path: path).mtime
        #expect(try await Self.save(server, w.id, path, mtime: current, Array("fresh\n".utf8)) == 201)
        // The agent's temporaries are `.NAME.hearth-*` beside the target (a microVM's /workspace
        // also holds ext4's lost+found).
        let leftovers = try await server.client.run(w.id, ["sh", "-c", "ls -A /workspace | grep -F '.race.txt.hearth-' || true"])
        #expect(leftovers.stdoutText.isEmpty, "no temporaries left: \(leftovers.stdoutText)")
        try await server.client.delete(w.id)
    }
}
