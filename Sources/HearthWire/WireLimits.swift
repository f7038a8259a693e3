/// Numbers both sides agree on in protocol version 1.
public enum WireLimits {
    /// Largest frame payload. Data frames carry at most this minus the channel byte.
    public static let maxFramePayload = 256 * 1024
    /// Largest chunk of data a sender puts in one frame. Large, because every guest syscall is
    /// expensive under gVisor's ptrace platform.
    public static let maxDataChunk = 240 * 1024
    /// Credit each side starts with per stream, in data bytes. Bounds what a receiver buffers per stream.
    public static let initialWindow = 1024 * 1024
    /// Streams a host keeps open per connection; with `initialWindow` this bounds host memory per workspace.
    public static let maxStreams = 256
    /// Control and open frames a receiver buffers per stream before declaring the peer hostile.
    public static let maxPendingControls = 64
}

/// The protocol version this build speaks. Bump on any incompatible change; gate new features on the peer's version.
public enum WireVersion {
    /// 2: the agent ends every operation with an empty `reset`.
    public static let current = 2
    public static let minimumSupported = 1
}
