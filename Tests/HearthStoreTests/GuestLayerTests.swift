import CHearthGuest
import Foundation
@testable import HearthStore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Committing a tree a guest wrote: a workspace's overlay upper layer (issue 16). The host walks it
/// as root, so nothing in it may point the walk elsewhere, and what overlayfs keeps there
/// (whiteouts, opaque directories, owners) must come back on restore.
@Suite("Guest layers: whiteouts, owners, links never followed")
struct GuestLayerTests {
    let kek = KeyEncryptionKey.generate()

    func entries(_ volume: Volume, generation: UInt64) async throws -> [String: Tree.Entry] {
        let index = try await volume.loadIndex(excludingCondemned: false)
        var out: [String: Tree.Entry] = [:]
        try await volume.walk(try await volume.resolve(generation).root, index: index) { path, entry in
            out[String(decoding: path, as: UTF8.self)] = entry
        }
        return out
    }

    @Test("an overlay layer keeps its whiteouts, opaque directories and owners; a FIFO, a database and links are not opened")
    func overlayLayerRoundTrips() async throws {
        try #require(geteuid() == 0, "whiteouts, owners and trusted xattrs need root")
        let scratch = try Scratch()
        let layer = scratch.path("upper").path
        let outside = scratch.path("host-secret").path
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "operator only".write(toFile: outside + "/token", atomically: false, encoding: .utf8)
        for dir in ["etc", "home/user", "var/lib/opaque"] {
            try FileManager.default.createDirectory(atPath: layer + "/" + dir, withIntermediateDirectories: true)
        }
        try "user file".write(toFile: layer + "/home/user/notes", atomically: false, encoding: .utf8)
        #expect(chown(layer + "/home/user/notes", 1000, 1001) == 0)
        #expect(chown(layer + "/home/user", 1000, 1000) == 0)
        #expect(mknod(layer + "/etc/motd", S_IFCHR, 0) == 0)                   // the image's /etc/motd, deleted
        #expect(hearth_set_overlay_opaque(layer + "/var/lib/opaque") == 0)
        #expect(symlink(outside, layer + "/escape") == 0)                       // a link to the host
        #expect(symlink(outside + "/token", layer + "/home/user/token") == 0)
        #expect(mkfifo(layer + "/home/user/pipe", 0o600) == 0)                  // opening it would block
        let db = layer + "/home/user/app.db"
        let connection = try SQLiteConnection(path: db, mode: .create)
        try connection.execute("PRAGMA journal_mode=WAL")
        try connection.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")

        let volume = try await openVolume(try LocalObjectStore(root: scratch.path("store")), kek: kek)
        var options = CommitOptions()
        options.guestTree = true
        let result = try await commitOnce(volume, URL(fileURLWithPath: layer), options: options)
        #expect(result.databases == 0, "a guest's database is kept as a file, never opened by the host's SQLite")
        let tree = try await entries(volume, generation: result.generation)
        #expect(tree["etc/motd"]?.kind == .whiteout)
        #expect(tree["var/lib/opaque"]?.opaque == true)
        #expect(tree["home/user"]?.opaque == false)
        #expect(tree["home/user/notes"]?.uid == 1000 && tree["home/user/notes"]?.gid == 1001)
        #expect(tree["escape"]?.kind == .symlink && tree["escape/token"] == nil)
        #expect(tree["home/user/token"]?.kind == .symlink)
        #expect(tree["home/user/pipe"] == nil)
        #expect(tree["home/user/app.db"]?.kind == .file)

        let restored = scratch.path("restored").path
        _ = try await volume.restore(generation: result.generation, to: URL(fileURLWithPath: restored))
        var info = stat()
        #expect(lstat(restored + "/etc/motd", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR && info.st_rdev == 0)
        #expect(lstat(restored + "/home/user/notes", &info) == 0 && info.st_uid == 1000 && info.st_gid == 1001)
        #expect(lstat(restored + "/home/user", &info) == 0 && info.st_uid == 1000)
        let opaque = open(restored + "/var/lib/opaque", O_RDONLY | O_DIRECTORY)
        #expect(opaque >= 0 && TreeScanner.isOpaque(opaque))
        close(opaque)
        #expect(lstat(restored + "/escape", &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK)
        withExtendedLifetime(connection) {}
    }

    @Test("a directory swapped for a link to the host while the layer is walked is never followed")
    func swappedDirectoryIsNeverFollowed() async throws {
        let scratch = try Scratch()
        let layer = scratch.path("upper").path
        let outside = scratch.path("host-secret").path
        try FileManager.default.createDirectory(atPath: outside + "/d", withIntermediateDirectories: true)
        let secret = "SECRET-\(UUID().uuidString)"
        try secret.write(toFile: outside + "/d/f", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: layer + "/d", withIntermediateDirectories: true)
        try "guest".write(toFile: layer + "/d/f", atomically: false, encoding: .utf8)

        // The guest: flips `d` between its own directory and a link to the host's, as fast as it can.
        let stop = Atomic<Bool>(false)
        let flipper = Thread {
            while !stop.load(ordering: .relaxed) {
                rename(layer + "/d", layer + "/d.real")
                symlink(outside + "/d", layer + "/d")
                unlink(layer + "/d")
                rename(layer + "/d.real", layer + "/d")
            }
        }
        flipper.start()
        defer { stop.store(true, ordering: .relaxed) }

        let volume = try await openVolume(try LocalObjectStore(root: scratch.path("store")), kek: kek)
        var options = CommitOptions()
        options.guestTree = true
        var generations: [UInt64] = []
        for _ in 0..<60 {
            generations.append(try await commitOnce(volume, URL(fileURLWithPath: layer), options: options).generation)
        }
        stop.store(true, ordering: .relaxed)
        // The flipper renames `d` away and back, so a generation holds `d` or `d.real` (or neither).
        var directories = 0
        for generation in Set(generations) {
            let tree = try await entries(volume, generation: generation)
            let held = ["d", "d.real"].filter { tree[$0]?.kind == .directory }
            guard !held.isEmpty else { continue }
            directories += 1
            let restored = scratch.path("restored-\(generation)")
            _ = try await volume.restore(generation: generation, to: restored)
            for name in held {
                let fd = open(restored.path + "/\(name)/f", O_RDONLY | O_NOFOLLOW)
                var bytes = [UInt8](repeating: 0, count: 256)
                let n = fd >= 0 ? read(fd, &bytes, bytes.count) : 0
                if fd >= 0 { close(fd) }
                #expect(!String(decoding: bytes.prefix(max(0, n)), as: UTF8.self).contains("SECRET"),
                        "generation \(generation) holds a host file read through the guest's link")
            }
            try? FileManager.default.removeItem(at: restored)
        }
        // Links are stored as links: a generation with `d` as a link restores a link, inside the
        // sandbox's root, never the host's file. Most generations catch a directory.
        #expect(directories > 0)
    }

    @Test("trees of the old format (no owners) still decode; unknown flags are damage")
    func treeFormats() throws {
        let entry = Tree.Entry(name: Array("a".utf8), kind: .whiteout, mode: 0, size: 0, mtimeNanoseconds: 7, uid: 5, gid: 6)
        let encoded = Tree(entries: [entry]).encoded()
        #expect(try Tree(decoding: encoded).entries == [entry])
        // HTR1: the same entry without owner and flags.
        // Integers are little-endian.
        var v1 = Array("HTR1".utf8) + [1, 0, 0, 0, 1, 0, UInt8(ascii: "a"), Tree.Kind.file.rawValue]
        v1 += [UInt8](repeating: 0, count: 4 + 8) + [7, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0]
        let old = try Tree(decoding: v1)
        #expect(old.entries.first?.uid == nil && old.entries.first?.mtimeNanoseconds == 7)
        // A flag on a file, or an unknown flag bit, is refused.
        var flagged = encoded
        let flagsOffset = 4 + 4 + 2 + 1 + 1 + 4 + 8 + 8 + 4 + 4
        flagged[flagsOffset] = 1
        #expect(throws: StoreError.self) { try Tree(decoding: flagged) }
        flagged[flagsOffset] = 2
        #expect(throws: StoreError.self) { try Tree(decoding: flagged) }
    }

    @Test("a sparse file, too many entries or too many name bytes stop a commit with a clear error, and nothing is published")
    func limitsStopACommit() async throws {
        let scratch = try Scratch()
        let layer = scratch.path("upper").path
        try FileManager.default.createDirectory(atPath: layer + "/many", withIntermediateDirectories: true)
        for i in 0..<150 { try "x".write(toFile: layer + "/many/f\(i)", atomically: false, encoding: .utf8) }
        let volume = try await openVolume(try LocalObjectStore(root: scratch.path("store")), kek: kek)

        func commit(_ limits: CommitLimits) async -> StoreError? {
            var options = CommitOptions()
            options.guestTree = true
            options.limits = limits
            return await #expect(throws: StoreError.self) { try await commitOnce(volume, URL(fileURLWithPath: layer), options: options) }
        }
        #expect(await commit(CommitLimits(entries: 100))?.code == .limitExceeded)
        #expect(await commit(CommitLimits(nameBytes: 200))?.code == .limitExceeded)
        #expect(await commit(CommitLimits(deadline: Date().addingTimeInterval(-1)))?.code == .limitExceeded)

        // 4 TiB of holes: refused by its size before a byte is read.
        let fd = open(layer + "/sparse", O_CREAT | O_WRONLY, 0o600)
        #expect(fd >= 0 && ftruncate(fd, 4 << 40) == 0)
        close(fd)
        let tooBig = await commit(CommitLimits(bytes: 1 << 30))
        #expect(tooBig?.code == .limitExceeded && tooBig?.message.contains("sparse") == true)
        #expect(try await volume.generationNumbers().isEmpty)
    }

    @Test("a generation is browsed without a restore: a directory listed, a file read within its limit, . and .. refused")
    func browseAGeneration() async throws {
        let scratch = try Scratch()
        let layer = scratch.path("upper").path
        try FileManager.default.createDirectory(atPath: layer + "/workspace/src", withIntermediateDirectories: true)
        try "v1".write(toFile: layer + "/workspace/src/main.swift", atomically: false, encoding: .utf8)
        let volume = try await openVolume(try LocalObjectStore(root: scratch.path("store")), kek: kek)
        var options = CommitOptions()
        options.guestTree = true
        _ = try await commitOnce(volume, URL(fileURLWithPath: layer), options: options)
        try "v2, longer".write(toFile: layer + "/workspace/src/main.swift", atomically: false, encoding: .utf8)
        _ = try await commitOnce(volume, URL(fileURLWithPath: layer), options: options)

        let listed = try await volume.list(generation: 1, path: "/workspace/src", limit: 10)
        #expect(listed.entries.map(\.name) == ["main.swift"] && !listed.truncated)
        #expect(String(decoding: try await volume.readFile(generation: 1, path: "workspace/src/main.swift", limit: 100), as: UTF8.self) == "v1")
        #expect(String(decoding: try await volume.readFile(generation: 2, path: "workspace/src/main.swift", limit: 100), as: UTF8.self) == "v2, longer")
        #expect(try await volume.diff(1, 2).map(\.path) == ["workspace/src/main.swift"])
        #expect(try await volume.diff(1, 2, limit: 0).count == 1, "a limited diff stops one past its limit")
        let tooLarge = await #expect(throws: StoreError.self) { try await volume.readFile(generation: 2, path: "workspace/src/main.swift", limit: 4) }
        #expect(tooLarge?.code == .invalidArgument)
        for bad in ["workspace/../etc", "./workspace", "workspace/src/main.swift/x"] {
            await #expect(throws: StoreError.self) { try await volume.readFile(generation: 1, path: bad, limit: 100) }
        }
        let missing = await #expect(throws: StoreError.self) { try await volume.list(generation: 1, path: "nope", limit: 10) }
        #expect(missing?.code == .notFound)
    }
}
