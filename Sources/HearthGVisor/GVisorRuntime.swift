import CHearthGuest
public import Foundation
public import HearthCore
public import HearthRuntime
public import Logging
public import Synchronization

/// Workspaces as gVisor sandboxes.
///
/// The agent is the sandbox's init process and its stdio is one end of a socketpair whose other
/// end the host keeps: no network and no shared socket file is needed. runsc re-donates stdio on
/// restore, so resume gets a fresh channel the same way. A host that lost the channel (a restarted
/// server) reaches the agent through `runsc exec hearth-guest bridge` to the agent's unix socket.
public final class GVisorRuntime: SandboxRuntime {
    public let kind = RuntimeKind.gvisor
    /// Each workspace has an ext4 disk of its own (`WorkspaceDisk`), sized by `disk_mib`.
    public var limitsDisk: Bool { true }
    public let configuration: GVisorConfiguration
    private let logger: Logger
    private let bridges = Mutex<[String: pid_t]>([:])
    /// `runsc delete` after a checkpoint takes over a second (runsc's own cgroup teardown); it runs
    /// here, off the pause path, and the next operation on the same sandbox waits for it.
    private let cleanups = Mutex<[String: Task<Void, Never>]>([:])

    private func settle(_ id: String) async {
        if let cleanup = cleanups.withLock({ $0.removeValue(forKey: id) }) { await cleanup.value }
    }

    public init(configuration: GVisorConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    private var runsc: String? { configuration.runscPath ?? HostCommand.which("runsc") }

    private func runscArgs(_ subcommand: [String], network: Bool = true) throws -> [String] {
        guard let runsc else { throw HearthError(.runtimeUnavailable, "the gvisor runtime is not installed", detail: "runsc not found") }
        guard network, configuration.networking != nil else {
            return [runsc, "--root", configuration.stateRoot, "--platform", configuration.platform, "--network", "none"] + subcommand
        }
        // Debian's runsc (20221219) refuses any namespace in which /proc/sys/net/core/rmem_default
        // exists, taking it for the host's; kernels since 4.x (here 6.18) have it in every
        // namespace. runsc runs in a private mount namespace with /proc/sys/net masked, which
        // changes nothing else it sees and nothing on the host.
        let unshare = HostCommand.which("unshare") ?? "/usr/bin/unshare"
        return [unshare, "-m", "--propagation", "private", "/bin/sh", "-c",
                "mount -t tmpfs -o size=4k,mode=0555 hearth-mask /proc/sys/net && exec \"$0\" \"$@\"",
                runsc, "--root", configuration.stateRoot, "--platform", configuration.platform, "--network", "sandbox"] + subcommand
    }

    // MARK: Probe

    public func probe() async -> RuntimeAvailability {
        guard runsc != nil else {
            return RuntimeAvailability(runtime: .gvisor, available: false, reason: "runsc is not installed (Debian package runsc)")
        }
        guard FileManager.default.isExecutableFile(atPath: configuration.agentDirectory + "/hearth-guest") else {
            return RuntimeAvailability(runtime: .gvisor, available: false,
                                       reason: "the guest agent is missing from \(configuration.agentDirectory)")
        }
        let probeRoot = configuration.stateRoot + "/probe"
        do {
            try FileManager.default.createDirectory(atPath: probeRoot, withIntermediateDirectories: true)
            let args = try runscArgs([], network: false).map { $0 == configuration.stateRoot ? probeRoot : $0 } + ["do", "/bin/true"]
            let result = try await HostCommand.run(args, timeout: .seconds(15))
            guard result.succeeded else {
                return RuntimeAvailability(runtime: .gvisor, available: false, mode: configuration.platform,
                                           reason: "runsc could not start a sandbox: \(result.stderr.suffix(300))")
            }
            return RuntimeAvailability(runtime: .gvisor, available: true, mode: configuration.platform,
                                       reason: "runsc started a sandbox with the \(configuration.platform) platform")
        } catch {
            return RuntimeAvailability(runtime: .gvisor, available: false, mode: configuration.platform,
                                       reason: "runsc did not start a sandbox in time: \(error)")
        }
    }

    // MARK: Lifecycle

    public func prepare(_ spec: SandboxSpec) async throws {
        let layout = Layout(spec)
        // Only directories the host owns. Nothing is written inside `upper`: the workspace writes
        // there, and a path through it may be a link the workspace planted (review finding 2).
        for dir in [layout.rootfs, layout.bundle] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        // The workspace's network (networking on) is made while its disk is: each is about 10 ms
        // of other programs' time. Every start passes here, so a stopped workspace's namespace gets
        // its address back (`WorkspaceNetworks.readdress`) before runsc reads it.
        // An earlier sandbox of the workspace is gone before its namespace is readdressed.
        await settle(spec.id)
        async let network = networkAttachment(spec)
        do {
            try await mountLayer(spec, layout)
        } catch {
            // Awaited, not cancelled: a cancelled attach would kill its own clean-up's commands.
            _ = try? await network
            throw error
        }
        // The statx workaround must load in every dynamic program, whatever the image: the image's
        // own preload list plus ours, bind-mounted read-only at /etc/ld.so.preload from the bundle.
        let preload = Self.preloadList(imageRootfs: spec.image.rootfs, logger: logger)
        try Data(preload.utf8).write(to: URL(fileURLWithPath: layout.preload), options: .atomic)
        try writeBundle(spec, layout, network: try await network)
    }

    /// With networking on: the workspace's namespace, made now or kept from an earlier start.
    private func networkAttachment(_ spec: SandboxSpec) async throws -> WorkspaceNetworkAttachment? {
        guard let networking = configuration.networking else { return nil }
        return try await networking.attach(workspace: spec.id)
    }

    /// The OCI bundle; with a network, its namespace and a host-owned resolv.conf naming Hearth's
    /// resolver, bound read-only.
    private func writeBundle(_ spec: SandboxSpec, _ layout: Layout, network: WorkspaceNetworkAttachment?) throws {
        var bundle = OCIBundle(id: spec.id, rootfs: layout.rootfs, agentDirectory: configuration.agentDirectory, limits: spec.limits,
                               preloadFile: layout.preload)
        if let network {
            let resolvConf = layout.bundle + "/resolv.conf"
            try Data("nameserver \(network.nameserver)\noptions timeout:1 attempts:2\n".utf8).write(to: URL(fileURLWithPath: resolvConf), options: .atomic)
            bundle.networkNamespace = network.namespacePath
            bundle.resolvConf = resolvConf
        }
        try bundle.configJSON().write(to: URL(fileURLWithPath: layout.bundle + "/config.json"))
    }

    /// The image's `/etc/ld.so.preload` (read beneath its root, never through a link, at most
    /// 64 KiB) with the statx shim's line added.
    static func preloadList(imageRootfs: String, logger: Logger) -> String {
        let ours = OCIBundle.agentMountPoint + "/libhearth-statx.so"
        var existing = ""
        do {
            existing = String(decoding: try Beneath.read("etc/ld.so.preload", beneath: imageRootfs, limit: 64 << 10), as: UTF8.self)
        } catch Beneath.Refusal.missing {
        } catch {
            logger.notice("ignoring the image's /etc/ld.so.preload", metadata: ["image.rootfs": "\(imageRootfs)", "reason": "\(error)"])
        }
        let lines = existing.split(whereSeparator: \.isNewline).map(String.init).filter { $0 != ours }
        return (lines + [ours]).joined(separator: "\n") + "\n"
    }

    public func start(_ spec: SandboxSpec) async throws -> AgentConnection {
        await settle(spec.id)
        let layout = Layout(spec)
        try await mountLayer(spec, layout)
        try Overlay.mount(lower: spec.image.rootfs, upper: layout.upper, work: layout.work, target: layout.rootfs)
        // A stopped container of the same id may remain from an earlier run. A new workspace has no
        // runsc state, and skipping a runsc invocation saves 10-30 ms of every cold create.
        await deleteLeftoverContainer(spec.id)
        return try await launch(spec, ["run", "--detach", "--bundle", layout.bundle, spec.id], what: "start")
    }

    public func reconnect(_ spec: SandboxSpec) async throws -> AgentConnection {
        let pair = try SocketPair()
        let process: pid_t
        do {
            process = try HostCommand.spawnDetached(
                try runscArgs(["exec", spec.id, OCIBundle.agentMountPoint + "/hearth-guest", "bridge", OCIBundle.agentSocket]),
                stdio: pair.guest, stderrFile: Layout(spec).log)
        } catch {
            close(pair.guest)
            close(pair.host)
            throw HearthError(.runtimeFailed, "cannot reach the workspace agent", detail: "\(error)")
        }
        close(pair.guest)
        let previous = bridges.withLock { bridges -> pid_t? in
            defer { bridges[spec.id] = process }
            return bridges[spec.id]
        }
        if let previous { kill(previous, SIGTERM) }
        Task.detached { _ = await HostCommand.wait(process) }
        let secret = try AgentSecret.load(from: spec.stateDirectory)
        let agent = try await AgentConnection.connect(socket: pair.host, logger: logger)
        do {
            // The bridge reaches the agent's abstract socket, which no workspace process can hold;
            // the proof refuses anything else that answers there (issue 14, finding 6).
            _ = try await agent.handshake(secret: secret, timeout: configuration.bootTimeout)
        } catch {
            agent.close()
            if let stale = bridges.withLock({ $0[spec.id] == process ? $0.removeValue(forKey: spec.id) : nil }) { kill(stale, SIGTERM) }
            logger.warning("workspace agent refused on reconnect", metadata: ["workspace.id": "\(spec.id)", "agent.error": "\(error)"])
            throw error
        }
        return agent
    }

    public func pause(_ spec: SandboxSpec, agent: AgentConnection?) async throws {
        let layout = Layout(spec)
        if let agent, !agent.isClosed {
            if hasBridge(spec.id) {
                agent.close()
            } else {
                // No half-written frame may be frozen into the snapshot.
                try await agent.quiesce()
            }
        }
        try await stopBridge(spec.id)
        try? FileManager.default.removeItem(atPath: layout.checkpoint)
        try FileManager.default.createDirectory(atPath: layout.checkpoint, withIntermediateDirectories: true)
        let result = try await HostCommand.run(try runscArgs(["checkpoint", "--image-path", layout.checkpoint, spec.id]),
                                               timeout: .seconds(300))
        agent?.close()
        guard result.succeeded else {
            try? FileManager.default.removeItem(atPath: layout.checkpoint)
            throw HearthError(.runtimeFailed, "the workspace could not be paused", detail: "runsc checkpoint: \(result.stderr.suffix(500))")
        }
        let delete = try runscArgs(["delete", "--force", spec.id])
        cleanups.withLock { $0[spec.id] = Task { _ = try? await HostCommand.run(delete) } }
    }

    public func resume(_ spec: SandboxSpec) async throws -> AgentConnection {
        await settle(spec.id)
        let layout = Layout(spec)
        guard FileManager.default.fileExists(atPath: layout.checkpoint + "/checkpoint.img") else {
            throw HearthError(.conflict, "the workspace has no saved state to resume from")
        }
        try await mountLayer(spec, layout)
        try Overlay.mount(lower: spec.image.rootfs, upper: layout.upper, work: layout.work, target: layout.rootfs)
        // The pause's own clean-up (waited out by `settle`) deleted the checkpointed container;
        // only one that outlived it, say across a server restart, needs deleting here.
        await deleteLeftoverContainer(spec.id)
        // runsc took the namespace's address into the netstack it saved (and off the interface);
        // the restored one takes it again from the namespace.
        try writeBundle(spec, layout, network: try await networkAttachment(spec))
        let agent = try await launch(spec, ["restore", "--detach", "--image-path", layout.checkpoint, "--bundle", layout.bundle, spec.id],
                                     what: "resume")
        try? FileManager.default.removeItem(atPath: layout.checkpoint)
        return agent
    }

    public func stop(_ spec: SandboxSpec, grace: Duration) async throws {
        await settle(spec.id)
        try await stopBridge(spec.id)
        let layout = Layout(spec)
        // Without a grace period, `delete --force` below kills the sandbox itself: asking
        // runsc for its state and signalling it first would only add two runsc runs.
        if grace > .zero, await status(spec) == .running {
            _ = try? await HostCommand.run(try runscArgs(["kill", spec.id, "TERM"]))
            let deadline = ContinuousClock.now + grace
            while ContinuousClock.now < deadline, await status(spec) == .running {
                try await Task.sleep(for: .milliseconds(50))
            }
            if await status(spec) == .running {
                _ = try? await HostCommand.run(try runscArgs(["kill", "--all", spec.id, "KILL"]))
            }
        }
        let deleted = try await HostCommand.run(try runscArgs(["delete", "--force", spec.id]))
        if !deleted.succeeded, await status(spec) != .missing {
            throw HearthError(.runtimeFailed, "the workspace could not be stopped", detail: deleted.stderr)
        }
        try? FileManager.default.removeItem(atPath: layout.checkpoint)
        Overlay.unmount(layout.rootfs)
        // A disk still busy (runsc's gofer exiting) stays mounted; the next start uses it as it is.
        if !layout.legacy { _ = WorkspaceDisk.unmount(layout.layer) }
    }

    public func destroy(_ spec: SandboxSpec) async throws {
        try await stop(spec, grace: .zero)
        await configuration.networking?.detach(workspace: spec.id)
        let layout = Layout(spec)
        Overlay.unmount(layout.rootfs)
        guard !Overlay.isMounted(layout.rootfs) else {
            throw HearthError(.runtimeFailed, "the workspace's filesystem is still in use", detail: layout.rootfs)
        }

        // runsc's gofer may still be exiting after `delete --force` returns, holding the rootfs
        // mount in its own namespace (EBUSY); on a loaded host that takes seconds. Retry for up
        // to 15 s, and report failure rather than claim a delete that left a directory behind.
        var lastError: (any Error)?
        for attempt in 0..<150 {
            // After 2 s, a gofer or sandbox process of this workspace that outlived `delete` is
            // killed: it pins the rootfs mount in its namespace and nothing else will end it.
            if attempt == 20 { Self.killLeftovers(bundle: layout.bundle) }
            // The disk is unmounted for real before its directory goes: a lazy unmount could
            // leave the image mounted while a later workspace reuses nothing of it.
            if !layout.legacy, !WorkspaceDisk.unmount(layout.layer) {
                lastError = HearthError(.runtimeFailed, "the workspace's disk is busy")
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                if FileManager.default.fileExists(atPath: spec.stateDirectory) {
                    try FileManager.default.removeItem(atPath: spec.stateDirectory)
                }
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw HearthError(.runtimeFailed, "the workspace's files could not be removed", detail: "\(spec.stateDirectory): \(lastError.map { "\($0)" } ?? "")")
    }

    /// SIGKILLs every runsc process serving the workspace whose bundle is `bundle`.
    static func killLeftovers(bundle: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        for entry in entries {
            guard let pid = Int32(entry),
                  let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let arguments = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasPrefix("runsc") == true, arguments.contains(where: { $0 == bundle || $0 == "--bundle=" + bundle }) else { continue }
            kill(pid, SIGKILL)
        }
    }

    public func status(_ spec: SandboxSpec) async -> SandboxStatus {
        await settle(spec.id)
        if let result = try? await HostCommand.run(try runscArgs(["state", spec.id]), timeout: .seconds(10)), result.succeeded,
           let data = result.stdout.data(using: .utf8),
           let state = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            switch state["status"] as? String {
            case "running", "created": return .running
            case "paused": return .paused
            default: break
            }
        }
        if FileManager.default.fileExists(atPath: Layout(spec).checkpoint + "/checkpoint.img") { return .paused }
        return FileManager.default.fileExists(atPath: spec.stateDirectory) ? .stopped : .missing
    }

    // MARK: Internals

    /// Runs `runsc run|restore --detach` with a fresh socketpair as the sandbox's stdio.
    ///
    /// A `run` starts a new agent process: it gets a fresh secret, handed over as the first frame
    /// on its stdio, which only the host holds. A `restore` brings back the agent that already has
    /// one in its (checkpointed) memory; the host's copy is in the state directory.
    private func launch(_ spec: SandboxSpec, _ subcommand: [String], what: String) async throws -> AgentConnection {
        let layout = Layout(spec)
        let provision = subcommand.first == "run"
        let secret = provision ? try AgentSecret.create(in: spec.stateDirectory) : try AgentSecret.load(from: spec.stateDirectory)
        let pair = try SocketPair()
        // runsc holds its own copy of the guest end from its start; ours goes once it has exited.
        defer { close(pair.guest) }
        let arguments: [String]
        let agent: AgentConnection
        do {
            arguments = try runscArgs(subcommand)
            agent = try await AgentConnection.connect(socket: pair.host, logger: logger)
        } catch {
            close(pair.host)
            throw error
        }
        // `runsc run --detach` returns only after the sandbox runs and its own process winds down;
        // the agent boots and greets meanwhile, so the greeting is read alongside, not after.
        let timeout = configuration.bootTimeout
        let log = layout.log
        let guestEnd = pair.guest
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        let result = try await HostCommand.run(arguments, stdio: guestEnd, stderrFile: log, timeout: timeout)
                        guard result.succeeded else {
                            throw HearthError(.runtimeFailed, "the workspace could not \(what)", detail: "runsc: \(self.tail(of: log))")
                        }
                    } catch {
                        // Ends the handshake at once rather than at its deadline.
                        agent.close()
                        throw RunscFailure(underlying: error)
                    }
                }
                group.addTask { _ = try await agent.handshake(secret: secret, provision: provision, timeout: timeout) }
                try await group.waitForAll()
            }
        } catch {
            agent.close()
            if let failure = error as? RunscFailure { throw failure.underlying }
            throw HearthError(.agentUnavailable, "the workspace agent did not start", detail: "\(error); \(tail(of: log))")
        }
        return agent
    }

    /// Marks an error of runsc itself, as opposed to the agent's handshake, in `launch`.
    private struct RunscFailure: Error { var underlying: any Error }

    /// Whether runsc keeps state for container `id`: its `ID_sandbox:ID.state` and lock files.
    private func hasRunscState(_ id: String) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: configuration.stateRoot)) ?? []
        return entries.contains { $0.hasPrefix(id + "_") }
    }

    /// Deletes the runsc container `id` if runsc still keeps state for it, without running runsc
    /// when it does not.
    private func deleteLeftoverContainer(_ id: String) async {
        if hasRunscState(id) { _ = try? await HostCommand.run(try runscArgs(["delete", "--force", id])) }
    }

    private func hasBridge(_ id: String) -> Bool { bridges.withLock { $0[id] != nil } }

    private func stopBridge(_ id: String) async throws {
        guard let process = bridges.withLock({ $0.removeValue(forKey: id) }) else { return }
        kill(process, SIGTERM)
        // The waiter started with the bridge reaps it; wait until the pid is gone.
        let deadline = ContinuousClock.now + .seconds(5)
        while kill(process, 0) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    private func tail(of path: String) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        return String(text.suffix(600))
    }

    /// Mounts the workspace's own disk (made on first use), unless it predates disks of its own.
    public func withChangedLayer<T: Sendable>(_ spec: SandboxSpec, _ body: (String) async throws -> T) async throws -> T? {
        let layout = Layout(spec)
        var mountedHere = false
        if !layout.legacy, !Overlay.isMounted(layout.layer) {
            guard FileManager.default.fileExists(atPath: layout.disk) else { return nil }
            try await WorkspaceDisk.mount(layout.disk, at: layout.layer, upper: layout.upper, work: layout.work)
            mountedHere = true
        }
        // A start racing this keeps the disk busy and mounted, which is what it wants anyway.
        defer { if mountedHere { WorkspaceDisk.unmount(layout.layer) } }
        guard FileManager.default.fileExists(atPath: layout.upper) else { return nil }
        return try await body(layout.upper)
    }

    /// A rollback's new layer is restored beside the old one on the workspace's own disk (mounted
    /// `nosuid,nodev`, which no sandbox uses while the workspace is stopped), then swapped in by
    /// rename; the old one, the guest's tree, is removed without following its links.
    public var replacesChangedLayer: Bool { true }

    public func replaceChangedLayer(_ spec: SandboxSpec, _ fill: (String) async throws -> Void) async throws {
        guard [.stopped, .missing].contains(await status(spec)) else { throw HearthError(.conflict, "the workspace must be stopped to be rolled back") }
        let layout = Layout(spec)
        // `status` reads a failed `runsc state` as stopped: the root overlay must be gone too.
        guard !Overlay.isMounted(layout.rootfs) else {
            throw HearthError(.conflict, "the workspace's sandbox is still winding down; try again in a moment", detail: "root overlay still mounted")
        }
        guard !layout.legacy else {
            throw HearthError(.conflict, "this workspace has no disk of its own to roll back", detail: "legacy layout")
        }
        // A fork's workspace has never started: its disk is made here, as a first start would.
        if !FileManager.default.fileExists(atPath: layout.disk) {
            try FileManager.default.createDirectory(atPath: spec.stateDirectory, withIntermediateDirectories: true)
            try await WorkspaceDisk.create(layout.disk, mib: spec.limits.diskMiB ?? WorkspaceDisk.defaultMiB, templates: configuration.diskTemplates)
        }
        var mountedHere = false
        if !Overlay.isMounted(layout.layer) {
            try await WorkspaceDisk.mount(layout.disk, at: layout.layer, upper: layout.upper, work: layout.work)
            mountedHere = true
        }
        defer { if mountedHere { WorkspaceDisk.unmount(layout.layer) } }
        // A name the host chose, in the layer's root, which only the host writes; fresh each time,
        // so an old tree that could not be removed (below) never stands in the way. Those an
        // earlier rollback left (a crash, a failed removal) go first.
        for leftover in ((try? FileManager.default.contentsOfDirectory(atPath: layout.layer)) ?? []) where leftover.hasPrefix("upper.incoming-") {
            Self.removeQuietly(layout.layer + "/" + leftover, logger: logger)
        }
        let incoming = layout.layer + "/upper.incoming-\(UInt64.random(in: 0...UInt64.max))"
        do {
            try await fill(incoming)
        } catch {
            Self.removeQuietly(incoming, logger: logger)
            throw error
        }
        chmod(incoming, 0o755)
        // Durable before the swap, the swap atomic (renameat2 RENAME_EXCHANGE), and durable after:
        // a crash leaves the old layer or the new one, never neither.
        guard hearth_syncfs_path(layout.layer) == 0 else {
            let err = errno
            Self.removeQuietly(incoming, logger: logger)
            throw HearthError(.runtimeFailed, "the workspace's state could not be replaced", detail: "syncfs \(layout.layer): errno \(err)")
        }
        guard hearth_rename_exchange(incoming, layout.upper) == 0 else {
            let err = errno
            Self.removeQuietly(incoming, logger: logger)
            throw HearthError(.runtimeFailed, "the workspace's state could not be replaced", detail: "renameat2 in \(layout.layer): errno \(err)")
        }
        _ = hearth_syncfs_path(layout.layer)
        // `incoming` now holds the old layer, the guest's tree: removed without following its links.
        Self.removeQuietly(incoming, logger: logger)
        // The overlay's work directory holds nothing a mount needs back.
        Self.removeQuietly(layout.work, logger: logger)
        mkdir(layout.work, 0o755)
    }

    /// Removes a tree the guest wrote (links are unlinked, never followed). A failure (a tree
    /// deeper than a path can name) is logged and left: it costs only the workspace's own disk.
    static func removeQuietly(_ path: String, logger: Logger) {
        do {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        } catch {
            logger.warning("could not remove an old layer", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    private func mountLayer(_ spec: SandboxSpec, _ layout: Layout) async throws {
        if layout.legacy {
            for dir in [layout.upper, layout.work] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            return
        }
        try FileManager.default.createDirectory(atPath: spec.stateDirectory, withIntermediateDirectories: true)
        try await WorkspaceDisk.create(layout.disk, mib: spec.limits.diskMiB ?? WorkspaceDisk.defaultMiB, templates: configuration.diskTemplates)
        try await WorkspaceDisk.mount(layout.disk, at: layout.layer, upper: layout.upper, work: layout.work)
    }

    struct Layout {
        let upper, work, rootfs, bundle, checkpoint, log, preload, disk, layer: String
        /// A workspace made before gVisor workspaces had disks of their own: its layer is a plain
        /// directory in the data directory.
        let legacy: Bool
        init(_ spec: SandboxSpec) {
            let base = spec.stateDirectory
            disk = base + "/disk.img"
            layer = base + "/layer"
            legacy = FileManager.default.fileExists(atPath: base + "/upper") && !FileManager.default.fileExists(atPath: disk)
            upper = (legacy ? base : layer) + "/upper"
            work = (legacy ? base : layer) + "/work"
            rootfs = base + "/rootfs"
            bundle = base + "/bundle"
            checkpoint = base + "/checkpoint"
            log = base + "/runsc.log"
            preload = bundle + "/ld.so.preload"
        }
    }
}
