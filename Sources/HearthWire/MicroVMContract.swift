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
