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
    }
}
