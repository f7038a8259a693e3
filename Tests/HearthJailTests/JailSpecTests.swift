import HearthJail
import Testing

@Suite struct JailSpecTests {
    @Test func argumentsRoundTrip() throws {
        let spec = JailSpec(root: "/data/ws/jail", uid: 999, gid: 998,
                            binds: [.init(source: "/data/ws/vm", target: "/vm", writable: true),
                                    .init(source: "/assets", target: "/boot", writable: false)],
                            kvm: true, cgroup: CgroupSpec(name: "ws_abc", memoryBytes: 512 << 20, cpus: 1.5),
                            incoming: "/data/ws/snapshot.bin", command: ["/usr/bin/qemu-system-x86_64", "-m", "256M", "--", "x"])
        #expect(try JailSpec.parse(spec.arguments) == spec)
        var networked = spec
        networked.networkNamespace = "/run/netns/htw-ws_abc"
        networked.tap = "tap0"
        #expect(try JailSpec.parse(networked.arguments) == networked)
    }

    @Test func refusesRootAndBadInput() {
        #expect(throws: JailSpec.ParseError.self) { try JailSpec.parse(["--root", "/j", "--uid", "0", "--gid", "0", "--", "/bin/true"]) }
        #expect(throws: JailSpec.ParseError.self) { try JailSpec.parse(["--root", "/j", "--uid", "5", "--gid", "5"]) }
        #expect(throws: JailSpec.ParseError.self) {
            try JailSpec.parse(["--root", "/j", "--uid", "5", "--gid", "5", "--bind", "/a:../../etc:rw", "--", "/bin/true"])
        }
        #expect(throws: JailSpec.ParseError.self) {
            try JailSpec.parse(["--root", "/j", "--uid", "5", "--gid", "5", "--cgroup", "../x", "--memory", "1", "--cpus", "1", "--", "/bin/true"])
        }
        #expect(throws: JailSpec.ParseError.self) { try JailSpec.parse(["--root", "/j", "--bogus", "--", "/bin/true"]) }
        // A tap is opened only inside the workspace's namespace, and is an interface's name.
        #expect(throws: JailSpec.ParseError.self) { try JailSpec.parse(["--root", "/j", "--uid", "5", "--gid", "5", "--tap", "tap0", "--", "/bin/true"]) }
        for bad in ["", "tap0/../x", "averyveryverylongname", "tap 0"] {
            #expect(throws: JailSpec.ParseError.self) {
                try JailSpec.parse(["--root", "/j", "--uid", "5", "--gid", "5", "--netns", "/run/netns/x", "--tap", bad, "--", "/bin/true"])
            }
        }
        #expect(throws: JailSpec.ParseError.self) { try JailSpec.parse(["--root", "/j", "--uid", "5", "--gid", "5", "--netns", "x", "--", "/bin/true"]) }
    }
}
