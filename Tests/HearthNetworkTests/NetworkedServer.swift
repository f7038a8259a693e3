import Foundation
import HearthAPI
import HearthClient
import HearthCore
import HearthNetwork
import HearthServerTestKit
import Logging

/// A live server with networking on, whose uplink is the test internet: every test starts its own
/// and removes everything it made (namespaces, veths, the nft table) when it ends.
struct NetworkedServer {
    static let prefix = "htw"
    let server: LiveServer
    let networks: WorkspaceNetworks
    let internet: TestInternet
    let configuration: NetworkConfiguration
    let logger: Logger
    /// The server and network service a `restart` started (the fixture removes the latest).
    final class Latest: @unchecked Sendable {
        var server: LiveServer?
        var networks: WorkspaceNetworks?
    }
    let latest = Latest()

    /// The operator allows `allowed.example` on port 80, `*.pkg.example` on port 80, and UDP to
    /// `allowed.example` port 7777.
    static let serverRules = ["allowed.example:80", "*.pkg.example:80", "udp:allowed.example:7777"]

    static func with(rules: [String] = serverRules, _ body: (NetworkedServer) async throws -> Void) async throws {
        let internet = try await TestInternet.start()
        var logger = Logger(label: "hearth.test.network")
        logger.logLevel = ProcessInfo.processInfo.environment["HEARTH_TEST_DEBUG"] != nil ? .debug : .warning
        let data = (ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"] ?? NSTemporaryDirectory()) + "/run-net-\(UUID().uuidString.prefix(8))"
        var configuration = NetworkConfiguration(stateDirectory: data + "/network")
        configuration.prefix = prefix
        configuration.cidr = CIDR("10.213.0.0/16")
        configuration.uplink = TestInternet.uplink
        configuration.dnsUpstream = IPv4(TestInternet.dnsServer)
        configuration.serverPolicy = try LevelPolicy(mode: "deny-all", rules: rules)
        let networks: WorkspaceNetworks
        do {
            networks = try await WorkspaceNetworks.start(configuration, logger: logger)
        } catch {
            await internet.stop()
            throw error
        }
        let server: LiveServer
        do {
            server = try await LiveServer.start(dataDirectory: data, network: networks)
        } catch {
            await networks.shutdown()
            await internet.stop()
            throw error
        }
        let fixture = NetworkedServer(server: server, networks: networks, internet: internet, configuration: configuration, logger: logger)
        var failure: (any Error)?
        do { try await body(fixture) } catch { failure = error }
        let lastServer = fixture.latest.server ?? server
        for w in (try? await lastServer.client.list()) ?? [] { try? await lastServer.client.delete(w.id) }
        await lastServer.stop()
        await (fixture.latest.networks ?? networks).shutdown()
        await internet.stop()
        if let failure { throw failure }
    }

    /// Stops the server (its sandboxes and their networks run on) and starts another, with a new
    /// network service, on the same data directory: what an upgrade or a crash-and-restart does.
    func restart() async throws -> LiveServer {
        let current = latest.server ?? server
        await current.stop()
        let networks = try await WorkspaceNetworks.start(configuration, logger: logger)
        latest.networks = networks
        let again = try await LiveServer.start(dataDirectory: current.dataDirectory, network: networks)
        latest.server = again
        return again
    }

    /// Runs a shell line in the workspace.
    func sh(_ ws: String, _ line: String, on other: LiveServer? = nil) async throws -> HearthClient.ExecResult {
        try await (other ?? server).client.run(ws, ["sh", "-c", line])
    }

    /// curl's exit code for `url` (28: timed out, i.e. dropped; 0: answered).
    func curl(_ ws: String, _ url: String, extra: String = "", on other: LiveServer? = nil) async throws -> (code: Int32?, body: String) {
        let r = try await sh(ws, "curl -s --connect-timeout 1 --max-time 3 \(extra) '\(url)'", on: other)
        return (r.code, r.stdoutText)
    }

    /// A raw DNS question from inside the workspace: "rcode N answers M" or "timeout".
    func dns(_ ws: String, server: String = "$(awk '/nameserver/{print $2}' /etc/resolv.conf)", name: String, type: Int = 1) async throws -> String {
        let script = #"""
        import socket,struct,sys
        s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(1.5)
        m=struct.pack("!HHHHHH",0x1234,0x0100,1,0,0,0)+b"".join(bytes([len(l)])+l.encode() for l in sys.argv[2].split("."))+b"\0"+struct.pack("!HH",int(sys.argv[3]),1)
        s.sendto(m,(sys.argv[1],53))
        try:
            r=s.recv(4096); print("rcode",r[3]&15,"answers",struct.unpack("!H",r[6:8])[0])
        except socket.timeout:
            print("timeout")
        """#
        let r = try await sh(ws, "python3 -c '\(script)' \(server) \(name) \(type)")
        return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) + (r.code == 0 ? "" : " (exit \(r.code ?? -1): \(r.stderrText.suffix(200)))")
    }

    /// The same question over TCP (two-byte length, then the message): "rcode N answers M", "closed"
    /// or "timeout".
    func dnsOverTCP(_ ws: String, name: String, type: Int = 1) async throws -> String {
        let script = #"""
        import socket,struct,sys
        m=struct.pack("!HHHHHH",0x4321,0x0100,1,0,0,0)+b"".join(bytes([len(l)])+l.encode() for l in sys.argv[2].split("."))+b"\0"+struct.pack("!HH",int(sys.argv[3]),1)
        try:
            s=socket.create_connection((sys.argv[1],53),timeout=2)
            s.sendall(struct.pack("!H",len(m))+m)
            r=b""
            while len(r)<2 or len(r)<2+struct.unpack("!H",r[:2])[0]:
                c=s.recv(4096)
                if not c: break
                r+=c
            r=r[2:]
            print("rcode",r[3]&15,"answers",struct.unpack("!H",r[6:8])[0]) if len(r)>=12 else print("closed")
        except socket.timeout:
            print("timeout")
        except OSError as e:
            print("closed")
        """#
        let r = try await sh(ws, "python3 -c '\(script)' $(awk '/nameserver/{print $2}' /etc/resolv.conf) \(name) \(type)")
        return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) + (r.code == 0 ? "" : " (exit \(r.code ?? -1): \(r.stderrText.suffix(200)))")
    }

    /// The inode of a workspace's network namespace, as the host names it.
    func namespaceInode(_ ws: String) throws -> UInt64 {
        try FileManager.default.attributesOfItem(atPath: "/run/netns/\(Self.prefix)-\(ws)")[.systemFileNumber] as! UInt64
    }

    /// The network namespace a microVM's QEMU runs in (its pid file is in the workspace's state).
    func vmmNetworkNamespace(_ ws: String) throws -> UInt64 {
        let text = try String(contentsOfFile: server.dataDirectory + "/workspaces/\(ws)/qemu.pid", encoding: .utf8)
        let pid = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var info = stat()
        guard stat("/proc/\(pid)/ns/net", &info) == 0 else { throw CocoaError(.fileNoSuchFile) }
        return UInt64(info.st_ino)
    }

    /// The workspace's own address, read inside it.
    func address(_ ws: String, on other: LiveServer? = nil) async throws -> String {
        let r = try await sh(ws, "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1", on: other)
        return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
