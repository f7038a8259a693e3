/// Names a microVM's host and its guest agent (as PID 1) must agree on, besides the frames.
public enum MicroVMContract {
    /// The virtio-serial port that carries the agent channel.
    public static let agentPort = "hearth.agent"
    /// virtio-blk serial numbers: disks are found by these, not by probe order.
    public static let rootDiskSerial = "hearth-root"
    public static let workspaceDiskSerial = "hearth-workspace"
    /// On the kernel command line: boot to userspace, print `probeMarker`, power off.
    public static let probeArgument = "hearth.probe"
    public static let probeMarker = "hearth-guest: probe ok"
}

/// A microVM's network as its kernel command line tells the guest agent:
/// `hearth.net=ADDRESS/PREFIX,GATEWAY`. The gateway (the host end of the workspace's veth) is
/// also the guest's only DNS server. No such word: the machine has no network device.
public struct MicroVMNetwork: Sendable, Equatable {
    public static let argument = "hearth.net"
    /// Dotted IPv4 addresses (checked by `parse`, which is what the guest uses).
    public var address: String
    public var prefixLength: Int
    public var gateway: String

    public init(address: String, prefixLength: Int, gateway: String) {
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
    }

    public var commandLineWord: String { "\(Self.argument)=\(address)/\(prefixLength),\(gateway)" }

    /// The network on a kernel command line, or nil when there is none or it is malformed.
    public static func parse(commandLine: String) -> MicroVMNetwork? {
        let prefix = argument + "="
        guard let word = commandLine.split(separator: " ").last(where: { $0.hasPrefix(prefix) }) else { return nil }
        let parts = word.dropFirst(prefix.count).split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let cidr = parts[0].split(separator: "/", omittingEmptySubsequences: false)
        guard cidr.count == 2, isAddress(cidr[0]), isAddress(parts[1]),
              (1...2).contains(cidr[1].count), cidr[1].allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(cidr[1]), (1...32).contains(length) else { return nil }
        return MicroVMNetwork(address: String(cidr[0]), prefixLength: length, gateway: String(parts[1]))
    }

    /// Four decimal bytes, no more.
    static func isAddress(_ text: Substring) -> Bool {
        let bytes = text.split(separator: ".", omittingEmptySubsequences: false)
        return bytes.count == 4 && bytes.allSatisfy { (1...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } && Int($0)! <= 255 }
    }
}
