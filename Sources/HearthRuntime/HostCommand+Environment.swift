import Foundation
import Synchronization

extension HostCommand {
    /// What host programs see: the directories programs are looked up in, and the whole
    /// environment a child gets. A library reads no environment variables; the composition root
    /// (`hearth serve`, `hearth doctor`) builds this from its own once, with `init(host:)`, and
    /// calls `configure(_:)` before it starts anything. Children never inherit the server's
    /// environment: it may hold tokens and keys (`AWS_SECRET_ACCESS_KEY`, a provider key) that no
    /// runsc, mkfs or mmdebstrap needs, and some of them pass what they get on to the sandbox.
    public struct Environment: Sendable, Equatable {
        /// Absolute directories, searched in order by `which`, and the child's `PATH`.
        public var searchPath: [String]
        /// Every other variable a child gets (`PATH` here is ignored: it always comes from `searchPath`).
        public var variables: [String: String]

        /// The usual root search path: what a host that sets nothing gets.
        public static let defaultSearchPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        /// Untranslated, UTF-8 messages from the tools whose stderr Hearth reports.
        public static let defaultVariables = ["LANG": "C.UTF-8"]
        /// Variables `init(host:)` passes on: where a tool may write (HOME, TMPDIR) and how
        /// mmdebstrap's apt reaches the Debian mirror behind a proxy. Nothing else.
        public static let passedFromHost = ["HOME", "TMPDIR", "http_proxy", "https_proxy", "no_proxy",
                                            "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"]

        public static let `default` = Environment()

        public init(searchPath: [String] = Environment.defaultSearchPath, variables: [String: String] = Environment.defaultVariables) {
            self.searchPath = searchPath
            self.variables = variables
        }

        /// From a host process's environment (the CLI passes its own):
        /// its `PATH`'s absolute directories, then the default ones it lacks (the sbin directories
        /// hold mkfs.ext4 and ip even when a user's PATH omits them); `LANG=C.UTF-8`; and the few
        /// `passedFromHost` variables. A relative PATH entry would resolve against the working
        /// directory, so it is dropped.
        public init(host: [String: String]) {
            var dirs: [String] = []
            for dir in (host["PATH"] ?? "").split(separator: ":").map(String.init) + Environment.defaultSearchPath
            where dir.hasPrefix("/") && !dirs.contains(dir) {
                dirs.append(dir)
            }
            var variables = Environment.defaultVariables
            for key in Environment.passedFromHost {
                if let value = host[key], !value.isEmpty { variables[key] = value }
            }
            self.init(searchPath: dirs, variables: variables)
        }

        /// `KEY=VALUE` strings for `posix_spawn`: PATH first, then the rest in a stable order.
        var spawnEnvironment: [String] {
            ["PATH=" + searchPath.joined(separator: ":")]
                + variables.filter { $0.key != "PATH" && !$0.key.isEmpty && !$0.key.contains("=") }
                    .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        }

        /// The first executable `name` in `searchPath` that only its owner or root could have
        /// put there. A name with a slash is not looked up. The server runs these as root: a
        /// directory in its `PATH` that others may write (a user's `~/bin`, a world-writable
        /// `/tmp` entry), or a program they own or may write, would let them choose what root
        /// runs as `nft` or `runsc`, so such entries are passed over.
        public func which(_ name: String) -> String? {
            guard !name.isEmpty, !name.contains("/") else { return nil }
            return searchPath.lazy.filter(Self.trustworthy).map { "\($0)/\(name)" }
                .first { FileManager.default.isExecutableFile(atPath: $0) && Self.trustworthy($0) }
        }

        /// Owned by root or by this process's user, and writable by neither group nor others
        /// (followed through links: what counts is what gets run).
        static func trustworthy(_ path: String) -> Bool {
            var info = stat()
            guard stat(path, &info) == 0 else { return false }
            let owner = info.st_uid
            return (owner == 0 || owner == geteuid()) && info.st_mode & (S_IWGRP | S_IWOTH) == 0
        }
    }

    private static let configured = Mutex(Environment.default)

    /// The environment every host command gets unless a call names its own.
    public static var environment: Environment { configured.withLock { $0 } }

    /// Sets the environment of every later host command: called once by the composition root.
    public static func configure(_ environment: Environment) {
        configured.withLock { $0 = environment }
    }

    /// Looks a program up in the configured search path.
    public static func which(_ name: String) -> String? { environment.which(name) }
}
