/// Numbers both sides agree on in protocol version 1.
public enum WireLimits {
    /// Largest frame payload. Data frames carry at most this minus the channel byte.
    public static let maxFramePayload = 256 * 1024
    /// Largest chunk of data a sender puts in one frame. Large, because every guest syscall is
    /// expensive under gVisor's ptrace platform.
    public static let maxDataChunk = 240 * 1024
    /// Credit each side starts with per stream, in data bytes, before version 5; since version 5 the
    /// host → agent credit still, and the most a host lets its agent → host window grow to. Bounds
    /// what a receiver buffers per stream.
    public static let initialWindow = 1024 * 1024
    /// Agent → host credit per stream when both sides speak version 5 or later. The host buffers
    /// what its reader has not taken, so a reader that stalls (an HTTP client downloading at a few
    /// bytes a second) costs this, not `initialWindow`; the host grows the window, up to
    /// `initialWindow`, for a reader that keeps up (see `HostStream`).
    public static let agentStartWindow = 128 * 1024
    /// Streams a host keeps open per connection; with `initialWindow` this bounds host memory per workspace.
    public static let maxStreams = 256
    /// Control and open frames a receiver buffers per stream before declaring the peer hostile.
    public static let maxPendingControls = 64
    /// Bytes of control payloads a receiver buffers per stream: a directory listing is one frame,
    /// so two frames' worth is plenty for an honest peer.
    public static let maxPendingControlBytes = 2 * maxFramePayload
    /// Small data frames a receiver merges into one buffered event, up to this many bytes: a peer
    /// that spends its credit a byte per frame then costs at most `2 * initialWindow / maxCoalescedData + 1`
    /// events, while a reader that paces itself by events (a terminal waiting for acknowledgements)
    /// never gets much more at once than the peer sent.
    public static let maxCoalescedData = 16 * 1024
}

/// The protocol version this build speaks. Bump on any incompatible change; gate new features on the peer's version.
public enum WireVersion {
    /// 2: the agent ends every operation with an empty `reset`.
    /// 3: the agent proves its per-boot secret in the handshake (`Hello.challenge`/`proof`, the
    ///    `provision` frame), and an empty `data` frame is a protocol violation. Not gated: a host
    ///    refuses any agent that cannot prove the secret, so it requires `minimumAuthenticated`.
    /// 4: `writeFile` carries `ifUnchangedSince`, checked by the agent under the lock it renames
    ///    under. Gated: a host sends it only to an agent of `conditionalWrite` or later, since an
    ///    older one would ignore the field and write unconditionally.
    /// 5: an agent whose host speaks version 5 starts each stream's send credit at
    ///    `WireLimits.agentStartWindow` instead of `initialWindow`; the host grows it with `window`
    ///    frames. Gated both ways: each side uses the small window only when the other's hello says 5.
    /// 6: `Request.syncChannel` and the `syncWanted`/`synced`/`syncFailed` controls. Gated: a host
    ///    opens the channel only to an agent of `guestSync` or later.
    public static let current = 6
    /// The first version whose agent checks `writeFile`'s `ifUnchangedSince`.
    public static let conditionalWrite = 4
    /// The first version whose agent → host windows start at `WireLimits.agentStartWindow`.
    public static let growingWindows = 5
    /// The first version whose agent serves `hearth-sync` over `Request.syncChannel`.
    public static let guestSync = 6
    public static let minimumSupported = 1
    /// The oldest agent a host accepts: the first that authenticates.
    public static let minimumAuthenticated = 3
}
