import Foundation
import HearthAPI
import HearthClient
import HearthHost
import HearthServerTestKit
import HearthStore
import Logging
import Testing

/// Issue 16 on a real gVisor sandbox: the workspace's overlay upper layer is committed to its
/// volume, deletions from the image included, and nothing the guest links to is read on the host.
@Suite(.serialized, .timeLimit(.minutes(5))) struct WorkspaceCommitTests {
    @Test func aGVisorWorkspacesChangesAreCommittedWithItsDeletionsAndOwnersAndNoLinkIsFollowed() async throws {
        let (server, data) = try await Self.durableServer("commits")
        defer { Task { await server.stop() } }
        let client = server.client
        let w = try await client.create(API.CreateWorkspaceBody(name: "durable", runtime: "gvisor"))

        // A package-like install, a file in /workspace, a deletion from the image, an owner, and a
        // link to the host's root that a careless host walk would follow.
        let script = """
            echo kept > /workspace/note && printf '#!/bin/sh\\necho tool\\n' > /usr/local/bin/tool && chmod 755 /usr/local/bin/tool \
            && rm /etc/debian_version && mkdir -p /opt/owned && chown 1000:1000 /opt/owned && ln -s / /workspace/host-root
            """
        let setup = try await client.run(w.id, ["sh", "-c", script])
        #expect(setup.exit?.code == 0, "\(setup.stderrText)")

        let first = try await client.sync(w.id)
        #expect(first.published && first.generation >= 1)
        let again = try await client.sync(w.id)
        #expect(!again.published && again.generation == first.generation, "an unchanged workspace publishes nothing")

        let (_, keys) = try Self.keys(data)
        let volume = try await keys.openWorkspace(w.id, tenant: "tn_default")
        let restored = data + "/restored-\(first.generation)"
        _ = try await volume.restore(generation: first.generation, to: URL(fileURLWithPath: restored))
        #expect(try String(contentsOfFile: restored + "/workspace/note", encoding: .utf8) == "kept\n")
        var info = stat()
        #expect(stat(restored + "/usr/local/bin/tool", &info) == 0 && info.st_mode & 0o777 == 0o755)
        #expect(lstat(restored + "/etc/debian_version", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR && info.st_rdev == 0,
                "the image's deleted file is kept as a whiteout")
        #expect(lstat(restored + "/opt/owned", &info) == 0 && info.st_uid == 1000 && info.st_gid == 1000)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: restored + "/workspace/host-root") == "/")

        // One file put back from the first generation (`hearth restore-file`), with its mode.
        _ = try await client.run(w.id, ["sh", "-c", "echo overwritten > /workspace/note; rm /usr/local/bin/tool"])
        #expect(try await client.restoreFile(w.id, generation: first.generation, path: "/workspace/note") == 5)
        #expect(try await client.run(w.id, ["cat", "/workspace/note"]).stdoutText == "kept\n")
        _ = try await client.restoreFile(w.id, generation: first.generation, path: "/usr/local/bin/tool")
        #expect(try await client.run(w.id, ["/usr/local/bin/tool"]).stdoutText == "tool\n", "restored executable")

        // A write just before a stop is in the stop's generation.
        _ = try await client.run(w.id, ["sh", "-c", "echo last > /workspace/last"])
        _ = try await client.lifecycle(w.id, "stop")
        let history = try await client.generations(w.id)
        let last = try #require(history.last)
        #expect(last.trigger == "stop" && last.generation > first.generation)
        #expect(history.first?.trigger == "sync")
        let final = data + "/restored-\(last.generation)"
        _ = try await volume.restore(generation: last.generation, to: URL(fileURLWithPath: final))
        #expect(try String(contentsOfFile: final + "/workspace/last", encoding: .utf8) == "last\n")

        // Sync works on a stopped workspace too (its disk is mounted for the commit and again released).
        let stoppedSync = try await client.sync(w.id)
        #expect(stoppedSync.generation == last.generation && !stoppedSync.published)
        try await client.delete(w.id)
    }

    /// `hearth-sync` inside the sandbox: on the workspace's PATH, it returns once what the
    /// workspace wrote before it is in a generation, and prints that generation.
    @Test func hearthSyncInsideAGVisorWorkspaceIsADurabilityBarrier() async throws {
        let (server, data) = try await Self.durableServer("guest-sync")
        defer { Task { await server.stop() } }
        let client = server.client
        let w = try await client.create(API.CreateWorkspaceBody(name: "barrier", runtime: "gvisor"))

        let synced = try await client.run(w.id, ["sh", "-c", "echo from-inside > /workspace/inside && hearth-sync"])
        #expect(synced.exit?.code == 0, "\(synced.stderrText)")
        let printed = synced.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let generation = try #require(printed.hasPrefix("generation ") ? UInt64(printed.dropFirst(11)) : nil, "\(printed)")
        let history = try await client.generations(w.id)
        #expect(history.last?.generation == generation && history.last?.trigger == "guest", "\(history)")

        let (_, keys) = try Self.keys(data)
        let volume = try await keys.openWorkspace(w.id, tenant: "tn_default")
        let restored = data + "/restored-\(generation)"
        _ = try await volume.restore(generation: generation, to: URL(fileURLWithPath: restored))
        #expect(try String(contentsOfFile: restored + "/workspace/inside", encoding: .utf8) == "from-inside\n")

        let usage = try await client.run(w.id, ["hearth-sync", "--timeout", "soon"])
        #expect(usage.exit?.code == 2 && usage.stderrText.contains("usage: hearth-sync"))
        try await client.delete(w.id)
    }

    /// A rollback and a fork on gVisor: the whole layer (a file in /workspace, an installed tool, a deleted
    /// image file) goes back to a generation, on the workspace's own disk, and the sandbox starts on it.
    @Test func aStoppedGVisorWorkspaceRollsBackWholeAndStartsOnIt() async throws {
        let (server, data) = try await Self.durableServer("rollback")
        defer { Task { await server.stop() } }
        let client = server.client
        let w = try await client.create(API.CreateWorkspaceBody(name: "travel", runtime: "gvisor"))
        let before = try await client.run(w.id, ["sh", "-c", "echo first > /workspace/note && printf '#!/bin/sh\\necho tool\\n' > /usr/local/bin/tool && chmod 755 /usr/local/bin/tool"])
        #expect(before.exit?.code == 0, "\(before.stderrText)")
        let first = try await client.sync(w.id)

        let after = try await client.run(w.id, ["sh", "-c", "echo second > /workspace/note && rm /usr/local/bin/tool && rm /etc/debian_version && ln -s / /workspace/host-root"])
        #expect(after.exit?.code == 0, "\(after.stderrText)")
        _ = try await client.lifecycle(w.id, "stop")
        let rolled = try await client.rollback(w.id, to: first.generation)
        #expect(rolled.generation > first.generation)
        #expect(try await client.generations(w.id).last?.trigger == "rollback")

        _ = try await client.lifecycle(w.id, "start")
        #expect(try await client.run(w.id, ["cat", "/workspace/note"]).stdoutText == "first\n")
        #expect(try await client.run(w.id, ["/usr/local/bin/tool"]).stdoutText == "tool\n")
        #expect(try await client.run(w.id, ["test", "-f", "/etc/debian_version"]).exit?.code == 0, "the image's file is back")
        #expect(try await client.run(w.id, ["test", "-e", "/workspace/host-root"]).exit?.code == 1)

        // A fork of the rolled-back generation: a new sandbox on its own disk, with that state.
        let fork = try await client.fork(w.id, generation: rolled.generation, name: "travel-copy")
        #expect(fork.state == "running" && fork.id != w.id)
        #expect(try await client.run(fork.id, ["cat", "/workspace/note"]).stdoutText == "first\n")
        #expect(try await client.run(fork.id, ["/usr/local/bin/tool"]).stdoutText == "tool\n")
        _ = try await client.run(fork.id, ["sh", "-c", "echo forked > /workspace/note"])
        #expect(try await client.run(w.id, ["cat", "/workspace/note"]).stdoutText == "first\n", "the source is its own")
        try await client.delete(fork.id)
        try await client.delete(w.id)
    }

    /// A live server (gVisor) with its own durable store, interval commits off, in a fresh data
    /// directory under `HEARTH_TEST_DATA`.
    static func durableServer(_ name: String) async throws -> (LiveServer, data: String) {
        let root = try #require(ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"], "run through scripts/test.sh")
        let data = root + "/\(name)-\(UUID().uuidString.prefix(8))"
        var logger = Logger(label: "hearth.test.commits")
        logger.logLevel = .warning
        let volumes = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:], logger: logger)
        let server = try await LiveServer.start(dataDirectory: data) { configuration in
            configuration.workspaceVolumes = volumes
            configuration.commitInterval = nil
        }
        return (server, data)
    }

    static func keys(_ data: String) throws -> (LocalObjectStore, KeyHierarchy) {
        let store = try LocalObjectStore(root: URL(fileURLWithPath: data + "/store"))
        return (store, KeyHierarchy(store: store, kek: try KeyEncryptionKey.load(file: data + "/kek")))
    }
}
