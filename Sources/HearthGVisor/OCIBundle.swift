public import Foundation
public import HearthCore
public import HearthRuntime

/// The OCI runtime spec runsc reads, as far as Hearth sets it.
struct OCIBundle {
    static let agentMountPoint = "/.hearth"
    /// `HearthWire.AgentSocket.address`: abstract, so no workspace process can plant a listener there.
    static let agentSocket = "@hearth-agent"

    var id: String
    var rootfs: String
    var agentDirectory: String
    var limits: ResourceLimits
    /// The host file bind-mounted read-only at `/etc/ld.so.preload` (in the bundle, host-owned).
    var preloadFile: String
    /// The workspace's own network namespace (networking on); nil: runsc makes an empty one.
    var networkNamespace: String? = nil
    /// A host file bind-mounted read-only at `/etc/resolv.conf`, naming Hearth's resolver.
    var resolvConf: String? = nil

    func configJSON() throws -> Data {
        let capabilities = [
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
            "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
            "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
        ]
        var mounts: [[String: Any]] = [
            // First: runsc's gofer resolves a destination inside the container's root as mounted
            // so far, creating what is missing as root. Before any other mount, a link the
            // workspace made at /etc can only lead into the workspace's own layer, never into a
            // host directory bound in later (the agent directory).
            ["destination": "/etc/ld.so.preload", "type": "bind", "source": preloadFile, "options": ["bind", "ro"]],
        ]
        if let resolvConf {
            mounts.append(["destination": "/etc/resolv.conf", "type": "bind", "source": resolvConf, "options": ["bind", "ro"]])
        }
        mounts += [
            ["destination": "/proc", "type": "proc", "source": "proc"],
            ["destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]],
            ["destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]],
            ["destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]],
            ["destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]],
            ["destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]],
            ["destination": Self.agentMountPoint, "type": "bind", "source": agentDirectory, "options": ["rbind", "ro"]],
        ]
        let network: [String: Any] = networkNamespace.map { ["type": "network", "path": $0] } ?? ["type": "network"]
        let spec: [String: Any] = [
            "ociVersion": "1.0.2",
            "process": [
                "terminal": false,
                "user": ["uid": 0, "gid": 0],
                "args": ["\(Self.agentMountPoint)/hearth-guest", "serve", "--listen", Self.agentSocket],
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"],
                "cwd": "/",
                "capabilities": ["bounding": capabilities, "effective": capabilities, "permitted": capabilities],
                "rlimits": [["type": "RLIMIT_NOFILE", "hard": 1_048_576, "soft": 1_048_576]],
                "noNewPrivileges": false,
            ],
            "root": ["path": rootfs, "readonly": false],
            "hostname": String(id.prefix(63)),
            "mounts": mounts,
            "linux": [
                "namespaces": [["type": "pid"], network, ["type": "ipc"], ["type": "uts"], ["type": "mount"]],
                "resources": [
                    "memory": ["limit": limits.memoryMiB * 1024 * 1024],
                    "cpu": ["quota": Int(limits.cpus * 100_000), "period": 100_000],
                    "pids": ["limit": 4096],
                ],
                "cgroupsPath": "/hearth/\(id)",
            ],
        ]
        return try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys])
    }
}
