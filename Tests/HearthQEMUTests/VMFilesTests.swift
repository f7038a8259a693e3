import CHearthGuest
import Foundation
import HearthCore
@testable import HearthQEMU
import Testing

/// `vm/` is writable by the jailed QEMU, so whoever takes QEMU over can plant symlinks, FIFOs and
/// sockets there. The host must never follow them: no host file is shown, read, chowned or
/// connected to through `vm/`, and no read there blocks. No VM is booted here.
@Suite(.serialized, .timeLimit(.minutes(1))) struct VMFilesTests {
    final class Scratch {
        let path = NSTemporaryDirectory() + "hearth-vmfiles-\(UUID().uuidString)"
        init() throws { try FileManager.default.createDirectory(atPath: path + "/ws/vm", withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var layout: QEMULayout { QEMULayout(base: path + "/ws") }
        /// A root-owned "host" file the VM must never reach.
        func secret() throws -> String {
            let file = path + "/host-secret"
            try "operator secret\n".write(toFile: file, atomically: true, encoding: .utf8)
            chmod(file, 0o600)
            return file
        }
    }

    static func owner(_ path: String) -> (uid: UInt32, mode: mode_t) {
        var info = stat()
        stat(path, &info)
        return (info.st_uid, info.st_mode & 0o7777)
    }

    @Test func aConsoleLogSymlinkToAHostFileShowsNothing() throws {
        let scratch = try Scratch()
        symlink(try scratch.secret(), scratch.layout.console)
        #expect(QEMURuntime.tail(of: scratch.layout.console, lines: 15) == "")
    }

    @Test func aConsoleLogFIFODoesNotBlockTheTail() throws {
        let scratch = try Scratch()
        #expect(mkfifo(scratch.layout.console, 0o600) == 0)
        #expect(QEMURuntime.tail(of: scratch.layout.console, lines: 15) == "")
    }

    @Test func theConsoleTailIsBounded() throws {
        let scratch = try Scratch()
        let line = String(repeating: "x", count: 1000) + "\n"
        try (String(repeating: line, count: 10_000) + "last line").write(toFile: scratch.layout.console, atomically: true, encoding: .utf8)
        let tail = QEMURuntime.tail(of: scratch.layout.console, lines: 1_000_000)
        #expect(tail.utf8.count <= 64 * 1024)
        #expect(tail.hasSuffix("last line"))
    }

    /// A disk the VM replaced with a symlink to a host file: preparing the workspace again must not
    /// hand that host file to the VM's uid.
    @Test(.enabled(if: getuid() == 0, "chown needs root"))
    func preparingDisksNeverChownsThroughASymlink() async throws {
        let scratch = try Scratch()
        let secret = try scratch.secret()
        symlink(secret, scratch.layout.rootDisk)
        symlink(secret, scratch.layout.workspaceDisk)
        let disks = QEMUDisks(configuration: QEMUConfiguration(agentDirectory: scratch.path))
        await #expect(throws: HearthError.self) {
            try await disks.prepare(layout: scratch.layout, base: secret, workspaceMiB: 8, owner: (123_456, 123_456))
        }
        #expect(Self.owner(secret).uid == 0)
        #expect(Self.owner(secret).mode == 0o600)
        // The memory file too, when a launch hands the VM its files.
        unlink(scratch.layout.rootDisk)
        unlink(scratch.layout.workspaceDisk)
        symlink(secret, scratch.layout.memoryFile)
        #expect(throws: HearthError.self) { try scratch.layout.claim(owner: (123_456, 123_456)) }
        #expect(Self.owner(secret).uid == 0)
        #expect(try String(contentsOfFile: secret, encoding: .utf8) == "operator secret\n")
    }

    /// `agent.sock` or `qmp.sock` replaced with a symlink to another listener (another workspace's
    /// agent, a host daemon) is refused; the real socket still connects.
    @Test func aSocketSymlinkIsNotConnectedTo() throws {
        let scratch = try Scratch()
        let elsewhere = scratch.path + "/other.sock"
        let listener = hearth_listen_unix(elsewhere, 4)
        try #require(listener >= 0)
        defer { close(listener) }
        symlink(elsewhere, scratch.layout.agentSocket)
        #expect(VMFiles.connect(socket: scratch.layout.agentSocket) == -1)
        #expect(throws: (any Error).self) { _ = try QMPClient(path: scratch.layout.agentSocket, timeout: .milliseconds(200)) }
        let direct = VMFiles.connect(socket: elsewhere)
        #expect(direct >= 0, "a real socket connects through its pinned descriptor: \(String(cString: strerror(errno)))")
        if direct >= 0 { close(direct) }
    }

    /// Each workspace gets its own uid from the range, never the probe's, never a real account's,
    /// and keeps it; a full range is a clear error.
    @Test func eachVMHasItsOwnUID() throws {
        let scratch = try Scratch()
        let range: ClosedRange<UInt32> = 100_000...100_002
        var seen: Set<UInt32> = []
        for name in ["alpha", "beta"] {
            let layout = QEMULayout(base: scratch.path + "/" + name)
            let ids = try VMIdentity.ids(for: layout, id: name, range: range)
            #expect(ids.uid == ids.gid)
            #expect(range.contains(ids.uid) && ids.uid != VMIdentity.probe(range).uid)
            #expect(getpwuid(ids.uid) == nil)
            #expect(try VMIdentity.ids(for: layout, id: name, range: range) == ids)
            seen.insert(ids.uid)
        }
        #expect(seen.count == 2)
        #expect(throws: HearthError.self) { _ = try VMIdentity.ids(for: QEMULayout(base: scratch.path + "/gamma"), id: "gamma", range: range) }
    }
}
