#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

extension GuestInit {
    /// The machine's network from its kernel command line (`hearth.net=…`, which the host wrote):
    /// the virtio-net interface gets the workspace's address and a default route through the host
    /// end of its veth, whose resolver is named in `/etc/resolv.conf`. What the guest does with
    /// them afterwards changes nothing outside it: the host's filter only forwards packets from
    /// this address, on this link, where the policy allows. A failure is printed on the console
    /// and the machine runs on without a network.
    static func configureNetwork(commandLine: String) {
        guard let network = MicroVMNetwork.parse(commandLine: commandLine) else { return }
        guard let interface = waitForInterface(prefix: "eth", seconds: 5) else {
            say("hearth-guest: no network interface appeared")
            return
        }
        let mask = network.prefixLength == 32 ? UInt32.max : ~(UInt32.max >> UInt32(network.prefixLength))
        let address = inet_addr(network.address), gateway = inet_addr(network.gateway)
        guard hearth_interface_configure(interface, address, mask.bigEndian, gateway) == 0 else {
            say("hearth-guest: cannot configure \(interface): \(String(cString: strerror(errno)))")
            return
        }
        writeResolvConf(nameserver: network.gateway)
    }

    /// The first interface named `prefix…` under /sys/class/net (the kernel names virtio-net
    /// `eth0`; nothing renames it before the agent runs).
    static func waitForInterface(prefix: String, seconds: Int) -> String? {
        for _ in 0..<(seconds * 50) {
            if let dir = opendir("/sys/class/net") {
                defer { closedir(dir) }
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if name.hasPrefix(prefix) { return name }
                }
            }
            usleep(20_000)
        }
        return nil
    }

    /// The image's resolv.conf may be a link into a resolver daemon's runtime directory, which
    /// nothing in a workspace runs: it is replaced by a plain file.
    static func writeResolvConf(nameserver: String) {
        let path = "/etc/resolv.conf"
        var fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        if fd < 0, errno == ELOOP {
            unlink(path)
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else {
            say("hearth-guest: cannot write \(path): \(String(cString: strerror(errno)))")
            return
        }
        defer { close(fd) }
        _ = Posix.writeAll(fd, Array("nameserver \(nameserver)\noptions timeout:1 attempts:2\n".utf8))
    }
}
