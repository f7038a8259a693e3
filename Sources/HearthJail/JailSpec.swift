/// What the jailer does before it becomes QEMU, as the host asks for it on the command line.
///
/// The jailer is the only privileged part of running a microVM: it creates the VM's cgroup, builds
/// a private mount namespace holding only the VM's own files and the system's read-only
/// libraries, drops to an unprivileged uid with no new privileges, and executes the VMM.
public struct JailSpec: Sendable, Equatable {
    public struct Bind: Sendable, Equatable {
        public var source: String
        /// Path inside the jail.
        public var target: String
        public var writable: Bool
        public init(source: String, target: String, writable: Bool) {
            self.source = source
            self.target = target
            self.writable = writable
        }
    }

    /// An empty directory the jail's root (a tmpfs) is mounted on.
    public var root: String
    public var uid: UInt32
    public var gid: UInt32
    public var binds: [Bind]
    /// Character devices made in the jail's /dev besides null, zero, random and urandom.
    public var kvm: Bool
    public var cgroup: CgroupSpec?
    /// A file opened read-only before privileges drop and handed to QEMU as descriptor 3
    /// (`incomingDescriptor`); the command names it (`-incoming fd:3`).
    public var incoming: String?
    public static let incomingDescriptor: Int32 = 3
    /// The network namespace the VMM runs in (`/run/netns/…`); nil: a new, empty one.
    public var networkNamespace: String?
    /// A tap in that namespace, opened before privileges drop and handed to QEMU as descriptor 4
    /// (`tapDescriptor`); the command names it (`-netdev tap,fd=4`).
    public var tap: String?
    public static let tapDescriptor: Int32 = 4
    /// The program to execute inside the jail, and its arguments.
    public var command: [String]

    public init(root: String, uid: UInt32, gid: UInt32, binds: [Bind], kvm: Bool, cgroup: CgroupSpec?,
                incoming: String?, command: [String]) {
        self.root = root
        self.uid = uid
        self.gid = gid
        self.binds = binds
        self.kvm = kvm
        self.cgroup = cgroup
        self.incoming = incoming
        self.command = command
    }

    public var arguments: [String] {
        var args = ["--root", root, "--uid", String(uid), "--gid", String(gid)]
        for bind in binds { args += ["--bind", "\(bind.source):\(bind.target):\(bind.writable ? "rw" : "ro")"] }
        if kvm { args.append("--kvm") }
        if let cgroup { args += ["--cgroup", cgroup.name, "--memory", String(cgroup.memoryBytes), "--cpus", String(cgroup.cpus)] }
        if let incoming { args += ["--incoming", incoming] }
        if let networkNamespace { args += ["--netns", networkNamespace] }
        if let tap { args += ["--tap", tap] }
        return args + ["--"] + command
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ args: [String]) throws(ParseError) -> JailSpec {
        var spec = JailSpec(root: "", uid: 0, gid: 0, binds: [], kvm: false, cgroup: nil, incoming: nil, command: [])
        var cgroupName: String?, memory: UInt64?, cpus: Double?
        var i = 0
        func value() throws(ParseError) -> String {
            i += 1
            guard i < args.count else { throw ParseError(description: "\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--root": spec.root = try value()
            case "--uid": guard let v = UInt32(try value()) else { throw ParseError(description: "bad --uid") }; spec.uid = v
            case "--gid": guard let v = UInt32(try value()) else { throw ParseError(description: "bad --gid") }; spec.gid = v
            case "--bind":
                let parts = try value().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 3, parts[0].hasPrefix("/"), parts[1].hasPrefix("/"), !parts[1].contains("..") else {
                    throw ParseError(description: "--bind wants SOURCE:TARGET:ro|rw")
                }
                spec.binds.append(Bind(source: parts[0], target: parts[1], writable: parts[2] == "rw"))
            case "--kvm": spec.kvm = true
            case "--cgroup": cgroupName = try value()
            case "--memory": memory = UInt64(try value())
            case "--cpus": cpus = Double(try value())
            case "--incoming": spec.incoming = try value()
            case "--netns":
                let path = try value()
                guard path.hasPrefix("/"), !path.contains("..") else { throw ParseError(description: "--netns wants an absolute path") }
                spec.networkNamespace = path
            case "--tap":
                let name = try value()
                // IFNAMSIZ is 16 with its terminator.
                guard (1...15).contains(name.utf8.count), name.utf8.allSatisfy({ $0 < 0x80 && (Character(Unicode.Scalar($0)).isLetter || Character(Unicode.Scalar($0)).isNumber) }) else {
                    throw ParseError(description: "--tap wants an interface name")
                }
                spec.tap = name
            case "--":
                spec.command = Array(args[(i + 1)...])
                i = args.count
                continue
            default: throw ParseError(description: "unknown option \(args[i])")
            }
            i += 1
        }
        guard spec.root.hasPrefix("/"), !spec.command.isEmpty else { throw ParseError(description: "--root and a command are required") }
        guard spec.uid != 0 else { throw ParseError(description: "refusing to run the VMM as root") }
        guard spec.tap == nil || spec.networkNamespace != nil else { throw ParseError(description: "--tap needs --netns") }
        if let cgroupName {
            guard let memory, let cpus, CgroupSpec.isValidName(cgroupName) else { throw ParseError(description: "--cgroup needs --memory and --cpus") }
            spec.cgroup = CgroupSpec(name: cgroupName, memoryBytes: memory, cpus: cpus)
        }
        return spec
    }
}
