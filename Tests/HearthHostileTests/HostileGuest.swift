import Foundation
import HearthAPI
import HearthClient
import HearthGVisor
import HearthRuntime
import HearthServer
import HearthServerTestKit
import Logging
import Testing

/// The hostile-guest suite's shared parts: a program that speaks just enough of wire v3 to be
/// adopted (or to take over an adopted channel) and then attacks the host, and the checks every
/// attack must pass against a live server.
enum HostileGuest {
    /// What the hostile program does once it holds the channel. Each mode attacks on the first
    /// `open` the host sends (the stream the host is waiting on), except where said.
    enum Attack: String, CaseIterable, Sendable {
        /// Random bytes: an invalid frame kind at once.
        case garbage
        /// A data frame header declaring 0xFFFFFFFF bytes.
        case oversized
        /// Data frames carrying only their channel byte (they cost no credit).
        case emptyFlood = "empty-flood"
        /// Two million one-byte data frames (twice the stream's credit, a byte at a time), then an
        /// answer: legal while the host reads as fast, an overrun otherwise.
        case byteFlood = "byte-flood"
        /// A frame header declaring 200,000 bytes, then one byte every 50 ms.
        case drip
        /// Well-formed answers whose every number is the largest its type holds.
        case maxSizes = "max-sizes"

        /// Whether the host must cut the channel and mark the workspace failed: a drip breaks no
        /// rule (it is slow, and its call times out) and a huge size is a valid number.
        var violatesTheProtocol: Bool { self == .garbage || self == .oversized || self == .emptyFlood }

        /// Every attack, or those named in `HEARTH_HOSTILE_ATTACKS` (comma-separated), to re-run one.
        static var selected: [Attack] {
            guard let names = ProcessInfo.processInfo.environment["HEARTH_HOSTILE_ATTACKS"] else { return allCases }
            return names.split(separator: ",").compactMap { Attack(rawValue: String($0)) }
        }
    }

    /// A timestamped line of the suite's progress: a suite that runs for minutes says where it is.
    static func progress(_ line: String) {
        print("hostile-guest \(Date().formatted(.iso8601)) \(line)")
    }

    /// Run as `python3 hostile.py ROLE MODE`. ROLE `agent`: it is the program the host started (a
    /// gVisor sandbox's replaced `hearth-guest`), on stdio; it takes the secret the host provisions
    /// and proves it. ROLE `takeover`: it is workspace code as root; it duplicates the agent's
    /// channel out of PID 1 (`pidfd_getfd`) and freezes every agent thread (`PTRACE_SEIZE` +
    /// `PTRACE_INTERRUPT`), so the adopted channel is its own. It prints how far it got, forks the
    /// attacker into its own session, and exits, so the exec that ran it ends in order.
    static let program = #"""
    import hashlib, hmac, json, os, random, struct, sys, time
    role, mode = sys.argv[1], sys.argv[2]
    rfd, wfd = 0, 1

    def readn(n):
        b = b""
        while len(b) < n:
            c = os.read(rfd, n - len(b))
            if not c:
                linger()
            b += c
        return b

    def writeall(b):
        while b:
            b = b[os.write(wfd, b):]

    def linger():
        # Never exit: the host, not the attacker's death, must be what ends the workspace.
        while True:
            time.sleep(3600)

    def frame(kind, stream, payload):
        return struct.pack(">BII", kind, stream, len(payload)) + payload

    def result(stream, reply):
        writeall(frame(5, stream, json.dumps({"result": {"_0": reply}}).encode()))
        writeall(frame(7, stream, b""))

    def attack(stream, request):
        if mode == "garbage":
            random.seed(14)
            writeall(bytes([0xEE]) + bytes(random.getrandbits(8) for _ in range(65536)))
        elif mode == "oversized":
            writeall(struct.pack(">BII", 3, stream, 0xFFFFFFFF))
        elif mode == "empty-flood":
            writeall(frame(3, stream, b"\x01") * 200000)
        elif mode == "byte-flood":
            one = frame(3, stream, b"\x01\x41")
            for _ in range(20):
                writeall(one * 100000)
            result(stream, {"directory": {"_0": []}})
            return
        elif mode == "drip":
            writeall(struct.pack(">BII", 3, stream, 200000))
            while True:
                writeall(b"\x01")
                time.sleep(0.05)
        elif mode == "max-sizes":
            entry = {"name": "x", "kind": "file", "size": 2**64 - 1, "mode": 2**32 - 1, "mtime": 1e308}
            if "listDirectory" in request:
                result(stream, {"directory": {"_0": [entry] * 64}})
            elif "stat" in request:
                result(stream, {"file": {"_0": entry}})
            elif "health" in request:
                result(stream, {"health": {"_0": {"version": 2**62, "agent": "x" * 4096, "pid": 2**31 - 1, "uptimeMs": 2**64 - 1}}})
            else:
                result(stream, {"written": {"bytes": 2**64 - 1}})
            return
        # Whatever the host does now, the attacker holds the channel: it answers nothing more.
        while True:
            readn(9)

    def serve(secret):
        while True:
            kind, stream, length = struct.unpack(">BII", readn(9))
            payload = readn(length)
            if kind == 10:
                secret = payload
            elif kind == 1:
                hello = json.loads(payload)
                proof = hmac.new(secret or b"", b"hearth-agent-proof/3\0" + hello["challenge"].encode(), hashlib.sha256).hexdigest()
                writeall(frame(1, 0, json.dumps({"version": 3, "agent": "hostile", "session": hello["session"], "proof": proof}).encode()))
            elif kind == 2:
                attack(stream, json.loads(payload))

    def takeover():
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        libc.ptrace.restype = ctypes.c_long
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        target = 0
        try:
            for name in os.listdir("/proc/1/fd"):
                try:
                    if os.readlink("/proc/1/fd/" + name).startswith("/dev/vport"):
                        target = int(name)
                except OSError:
                    pass
        except OSError as e:
            print("fds-denied-%d" % e.errno, flush=True)
        try:
            pidfd = os.pidfd_open(1)
        except OSError as e:
            print("pidfd-denied-%d" % e.errno, flush=True)
            return
        fd = libc.syscall(438, pidfd, target, 0)
        if fd < 0:
            print("getfd-denied-%d" % ctypes.get_errno(), flush=True)
            return
        print("channel-duplicated", flush=True)
        if role == "probe":
            seized = libc.ptrace(0x4206, 1, None, None) == 0
            print("seized" if seized else "seize-denied-%d" % ctypes.get_errno(), flush=True)
            return
        if os.fork() == 0:
            os.setsid()
            null = os.open("/dev/null", os.O_RDWR)
            for std in (0, 1, 2):
                os.dup2(null, std)
            time.sleep(1)
            # Threads come and go (an exec's threads end as it does): seize until none is new,
            # skipping a thread that ended in between (ESRCH).
            seized = set()
            for _ in range(50):
                fresh = [int(t) for t in os.listdir("/proc/1/task") if int(t) not in seized]
                if not fresh:
                    break
                for tid in fresh:
                    if libc.ptrace(0x4206, tid, None, None) == 0:
                        libc.ptrace(0x4207, tid, None, None)
                        seized.add(tid)
                    elif ctypes.get_errno() == 3:
                        seized.add(tid)
                    else:
                        os._exit(3)
            global rfd, wfd
            rfd, wfd = fd, fd
            try:
                serve(None)
            except BaseException:
                linger()

    if role == "agent":
        try:
            serve(None)
        except BaseException:
            linger()
    else:
        takeover()
    """#

    /// A gVisor agent directory whose `hearth-guest` is a wrapper: in a sandbox whose hostname (the
    /// workspace id) has a file under `modes/`, `serve` runs the hostile program in that mode;
    /// otherwise, and for every other subcommand, it runs the real agent.
    static func wrapperAgentDirectory(realAgent: String) throws -> String {
        let directory = NSTemporaryDirectory() + "hostile-guest-" + UUID().uuidString.prefix(8)
        let files = FileManager.default
        try files.createDirectory(atPath: directory + "/modes", withIntermediateDirectories: true)
        try files.copyItem(atPath: realAgent + "/hearth-guest", toPath: directory + "/hearth-guest.real")
        if files.fileExists(atPath: realAgent + "/libhearth-statx.so") {
            try files.copyItem(atPath: realAgent + "/libhearth-statx.so", toPath: directory + "/libhearth-statx.so")
        }
        try program.write(toFile: directory + "/hostile.py", atomically: true, encoding: .utf8)
        let wrapper = """
        #!/bin/sh
        mode=/.hearth/modes/$(cat /proc/sys/kernel/hostname 2>/dev/null)
        if [ "$1" = serve ] && [ -f "$mode" ]; then exec python3 /.hearth/hostile.py agent "$(cat "$mode")"; fi
        exec /.hearth/hearth-guest.real "$@"

        """
        try wrapper.write(toFile: directory + "/hearth-guest", atomically: true, encoding: .utf8)
        for path in [directory, directory + "/modes", directory + "/hearth-guest", directory + "/hearth-guest.real"] {
            chmod(path, 0o755)
        }
        chmod(directory + "/hostile.py", 0o644)
        return directory
    }

    /// The server's resident set in KiB (the server runs in this process).
    static func residentKiB() -> Int { HostileTenant.residentKiB() }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass.
    static func until(_ what: String, seconds: Int = 60, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TerminalSocketClient.Timeout(what: what) }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Runs the request that makes the agent attack, alongside an exec in a sibling workspace that
    /// must succeed while the attack runs; returns whether the triggering request succeeded.
    /// Whether the triggering listing was answered, and whether it timed out (the hostile agent
    /// never answered its open at all, rather than answering it with an attack).
    static func trigger(_ client: HearthClient, attacked: String, sibling: String, attack: Attack) async throws -> (answered: Bool, timedOut: Bool) {
        async let triggered: (Bool, Bool) = {
            do {
                let list = try await client.listFiles(attacked, path: "/")
                if attack == .maxSizes { #expect(list.entries.allSatisfy { $0.size == .max }) }
                return (true, false)
            } catch {
                progress("\(attack): the triggering listing failed: \(error)")
                return (false, "\(error)".contains("timed out"))
            }
        }()
        let echo = try await client.run(sibling, ["echo", "sibling-\(attack.rawValue)"])
        #expect(echo.stdoutText == "sibling-\(attack.rawValue)\n", "the sibling's exec during \(attack)")
        return await triggered
    }

    /// After an attack: the server answers, the sibling still runs commands, and the attacked
    /// workspace is failed with a protocol reason when the attack broke the protocol.
    /// `reached`: false when the triggering request timed out, so the attack may never have run.
    static func expectContained(_ client: HearthClient, attacked: String, sibling: String, attack: Attack, reached: Bool = true) async throws {
        #expect(try await client.health().status == "ok")
        progress("\(attack): the server answers its health check")
        if attack == .byteFlood, try await client.get(attacked).state == "failed" {
            // The guest outran the host's reading: an overrun, which is a violation too.
            #expect(try await client.get(attacked).failure?.contains("broke the protocol") == true)
        }
        if attack.violatesTheProtocol {
            do {
                try await until("\(attack) marks the workspace failed") { try await client.get(attacked).state == "failed" }
            } catch {
                let w = try await client.get(attacked)
                let what = "\(attack): the attacked workspace is \(w.state) (\(w.failure ?? "no failure")) \(w.id)"
                if attack == .oversized || !reached {
                    // Seen once (CI, 2026-12-01, gVisor, a quiet machine): the triggering listing
                    // failed with no server-side error and the hostile agent never got its open, so
                    // nothing marked the workspace failed. The server and the sibling were fine.
                    // Not yet explained: known and intermittent until it is (ARCHITECTURE.md).
                    withKnownIssue("the attacked workspace was not marked failed (the trigger may not have reached the hostile agent)", isIntermittent: true) { Issue.record(Comment(rawValue: what)) }
                } else {
                    Issue.record(Comment(rawValue: what))
                }
                return
            }
            let failure = try await client.get(attacked).failure ?? ""
            #expect(failure.contains("broke the protocol"), "\(attack): \(failure)")
        }
        progress("\(attack): the attacked workspace is \(try await client.get(attacked).state)")
        #expect(try await client.get(sibling).state == "running", "\(attack) touched the sibling")
        #expect(try await client.run(sibling, ["true"]).code == 0)
        progress("\(attack): the sibling still runs commands")
    }
}

extension HostileGuest {
    /// One live server for the suite (a server's start probes QEMU by booting it, which is
    /// expensive under TCG). Its gVisor runtime uses the wrapper agent directory; the QEMU one is
    /// the host's, with the real agent in its initramfs.
    static let live = Task { () async throws -> (server: LiveServer, agents: String) in
        let agents = try wrapperAgentDirectory(realAgent: AgentBundle.locate().directory)
        let server = try await LiveServer.start(host: { $0.gvisorAgentDirectory = agents })
        return (server, agents)
    }
}
