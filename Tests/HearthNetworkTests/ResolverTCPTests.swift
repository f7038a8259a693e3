import Foundation
import HearthNetwork
import HearthRuntime
import Testing

/// The resolver over TCP takes bytes from a guest: it answers framed questions, holds at most
/// `tcpConnectionsPerWorkspace` connections per workspace, and survives whatever else arrives.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ResolverTCPTests {
    /// argv: gateway, connections to open at once. Sends one question for allowed.example on
    /// each, then prints how many were answered; then sends garbage (100 random frames, within the
    /// question budget; an oversized length; a torn frame) and asks again on a fresh connection:
    /// "answered N after garbage: rcode R".
    static let script = #"""
    import os,random,socket,struct,sys
    gw=sys.argv[1]; n=int(sys.argv[2])
    def question(name):
        m=struct.pack("!HHHHHH",7,0x0100,1,0,0,0)+b"".join(bytes([len(l)])+l.encode() for l in name.split("."))+b"\0"+struct.pack("!HH",1,1)
        return struct.pack("!H",len(m))+m
    def answer(s):
        r=b""
        while len(r)<2 or len(r)<2+struct.unpack("!H",r[:2])[0]:
            c=s.recv(4096)
            if not c: return None
            r+=c
        return r[2:]
    conns=[]
    for i in range(n):
        try:
            conns.append(socket.create_connection((gw,53),timeout=2))
        except OSError:
            pass
    answered=0
    for s in conns:
        try:
            s.sendall(question("allowed.example"))
            if answer(s): answered+=1
        except OSError:
            pass
    for s in conns: s.close()
    random.seed(7)
    g=socket.create_connection((gw,53),timeout=2)
    try:
        for i in range(100):
            body=os.urandom(random.randint(0,300))
            g.sendall(struct.pack("!H",len(body))+body)
        g.sendall(struct.pack("!H",65535)+b"x"*100)
    except OSError:
        pass
    g.close()
    t=socket.create_connection((gw,53),timeout=2); t.sendall(question("allowed.example")[:5]); t.close()
    # A flood drops its own workspace's questions (8 answered at once): ask again, as resolvers do.
    r=None
    for attempt in range(5):
        s=socket.create_connection((gw,53),timeout=1); s.sendall(question("allowed.example"))
        try:
            r=answer(s)
        except socket.timeout:
            pass
        s.close()
        if r: break
    print("answered",answered,"after garbage: rcode",(r[3]&15) if r else "none")
    """#

    /// argv: gateway, N. Opens and closes N TCP connections to port 53, and sends one datagram
    /// from each of N fresh source ports; prints how many connections opened. Tracked, that is
    /// 2N entries (a closed TCP one lives two minutes, a UDP one half a minute).
    static let churn = #"""
    import socket,sys
    gw=sys.argv[1]; n=int(sys.argv[2]); opened=0
    for i in range(n):
        try:
            c=socket.create_connection((gw,53),timeout=1); opened+=1; c.close()
        except OSError:
            pass
        u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); u.sendto(b"\0"*12,(gw,53)); u.close()
    print(opened)
    """#

    @Test func framedQuestionsAreAnsweredConnectionsAreBoundedAndGarbageIsSurvived() async throws {
        try await NetworkScaleTests.withNetworks { networks in
            let a = try await networks.attach(workspace: "ws_tcpdns")
            let ns = NetworkAddressReuseTests.namespace(a)
            let out = try await TestInternet.exec(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", Self.script, a.nameserver, "20"])
            #expect(out.stdout == "answered 16 after garbage: rcode 0\n", "\(out.stdout) \(out.stderr)")
            // DNS to the workspace's own resolver is not tracked: a workspace cycling connections
            // and source ports to it leaves nothing in the host's table, which every tenant shares.
            let before = try NetworkAddressReuseTests.trackedConnections()
            let churn = try await TestInternet.exec(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", Self.churn, a.nameserver, "100"])
            // (A connect now and then waits out a lost SYN: a second each, so most, not all.)
            #expect((Int(churn.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 90, "\(churn.stdout) \(churn.stderr)")
            let after = try NetworkAddressReuseTests.trackedConnections()
            #expect(after - before < 50, "tracked connections grew from \(before) to \(after)")
            // The garbage was logged as what it was, and nothing else was asked upstream.
            let log = await networks.netlog("ws_tcpdns")
            #expect(log?.entries.contains { !$0.allowed && $0.destination == "(malformed query)" } == true)
        }
    }
}
