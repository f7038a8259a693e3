public import Foundation
public import HearthCore

/// JSON shapes of `/v1`. Keys are snake_case on the wire.
public enum API {
    public static let version = "v1"

    public struct WorkspaceBody: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var runtime: String
        public var image: String
        public var state: String
        public var cpus: Double
        public var memory_mib: Int
        /// Set only where the workspace has a disk of its own of this size.
        public var disk_mib: Int?
        public var created_at: Date
        public var updated_at: Date
        public var failure: String?
        /// The newest generation in the store that holds the workspace's state, and when that was
        /// last confirmed; absent until its first commit (or on a server without a store).
        public var durable_generation: UInt64?
        public var durable_at: Date?
        /// This workspace's own commit interval, when it has one (0: interval commits are off).
        public var commit_interval_s: Int?
        /// Seconds without activity after which this running workspace is paused, when set.
        public var idle_timeout_s: Int?

        public init(_ w: Workspace) {
            id = w.id
            name = w.name
            runtime = w.runtime.rawValue
            image = w.image
            state = w.state.rawValue
            cpus = w.limits.cpus
            memory_mib = w.limits.memoryMiB
            disk_mib = w.limits.diskMiB
            created_at = w.createdAt
            updated_at = w.updatedAt
            failure = w.failure
            durable_generation = w.durableGeneration
            durable_at = w.durableAt
            commit_interval_s = w.commitIntervalSeconds
            idle_timeout_s = w.idleTimeoutSeconds
        }
    }

    public struct WorkspaceList: Codable, Sendable {
        public var workspaces: [WorkspaceBody]
        public init(workspaces: [WorkspaceBody]) { self.workspaces = workspaces }
    }

    public struct CreateWorkspaceBody: Codable, Sendable {
        public var name: String?
        public var image: String?
        public var runtime: String?
        public var cpus: Double?
        public var memory_mib: Int?
        public var disk_mib: Int?
        /// Seconds between this workspace's interval commits to the store (10 to 86400; 0: only on
        /// pause, stop and sync); absent: the server's `--commit-interval`.
        public var commit_interval_s: Int?
        /// Pause the workspace after this many seconds without activity (an API call that reaches
        /// its agent, terminal input, a preview request): 300 to 604800; 0 or absent: never.
        public var idle_timeout_s: Int?
        public init(name: String? = nil, image: String? = nil, runtime: String? = nil, cpus: Double? = nil, memory_mib: Int? = nil,
                    disk_mib: Int? = nil, commit_interval_s: Int? = nil, idle_timeout_s: Int? = nil) {
            self.disk_mib = disk_mib
            self.commit_interval_s = commit_interval_s
            self.idle_timeout_s = idle_timeout_s
            self.name = name
            self.image = image
            self.runtime = runtime
            self.cpus = cpus
            self.memory_mib = memory_mib
        }
    }

    public struct ExecBody: Codable, Sendable {
        public var argv: [String]
        public var env: [String: String]?
        public var cwd: String?
        public var user: String?
        public var timeout_ms: UInt64?
        /// Text written to the process's stdin before it is closed.
        public var stdin: String?
        /// Run on a PTY of this size (WebSocket exec only).
        public var pty: PTY?
        public init(argv: [String], env: [String: String]? = nil, cwd: String? = nil, user: String? = nil,
                    timeout_ms: UInt64? = nil, stdin: String? = nil, pty: PTY? = nil) {
            self.argv = argv
            self.env = env
            self.cwd = cwd
            self.user = user
            self.timeout_ms = timeout_ms
            self.stdin = stdin
            self.pty = pty
        }
    }

    public struct PTY: Codable, Sendable {
        public var rows: UInt16
        public var cols: UInt16
        public init(rows: UInt16, cols: UInt16) {
            self.rows = rows
            self.cols = cols
        }
    }

    public struct ErrorBody: Codable, Sendable {
        public struct Detail: Codable, Sendable {
            public var code: String
            public var message: String
            /// The request's id (`X-Request-Id`), so a user's report can be matched with the server's log.
            public var requestId: String?

            enum CodingKeys: String, CodingKey {
                case code, message
                case requestId = "request_id"
            }
        }
        public var error: Detail
        public init(code: String, message: String, requestId: String? = nil) {
            error = Detail(code: code, message: message, requestId: requestId)
        }
    }

    /// The first message of a port tunnel WebSocket once the guest side has connected.
    public struct TunnelOpened: Codable, Sendable {
        public var connected: Bool
        public var port: Int
        public init(connected: Bool, port: Int) {
            self.connected = connected
            self.port = port
        }
    }

    public struct RuntimeBody: Codable, Sendable {
        public var runtime: String
        public var available: Bool
        public var mode: String?
        public var reason: String
        public var `default`: Bool
        public init(runtime: String, available: Bool, mode: String?, reason: String, default: Bool) {
            self.runtime = runtime
            self.available = available
            self.mode = mode
            self.reason = reason
            self.default = `default`
        }
    }

    public struct FileEntry: Codable, Sendable, Equatable {
        public var name: String
        public var kind: String
        public var size: UInt64
        public var mode: UInt32
        public var mtime: Double
        public var link_target: String?
        public init(name: String, kind: String, size: UInt64, mode: UInt32, mtime: Double, link_target: String?) {
            self.name = name
            self.kind = kind
            self.size = size
            self.mode = mode
            self.mtime = mtime
            self.link_target = link_target
        }
    }

    public struct FileList: Codable, Sendable {
        public var path: String
        public var entries: [FileEntry]
        public init(path: String, entries: [FileEntry]) {
            self.path = path
            self.entries = entries
        }
    }

    public struct Port: Codable, Sendable, Equatable {
        public var port: UInt16
        public var address: String
        public var family: String
        public init(port: UInt16, address: String, family: String) {
            self.port = port
            self.address = address
            self.family = family
        }
    }

    public struct PortList: Codable, Sendable {
        public var ports: [Port]
        public init(ports: [Port]) { self.ports = ports }
    }

    public struct Health: Codable, Sendable {
        public var status: String
        public var version: String
        public init(status: String, version: String) {
            self.status = status
            self.version = version
        }
    }

    public struct PathBody: Codable, Sendable {
        public var path: String
        public init(path: String) { self.path = path }
    }

    public struct MoveBody: Codable, Sendable {
        public var from: String
        public var to: String
        public var overwrite: Bool?
        public init(from: String, to: String, overwrite: Bool? = nil) {
            self.from = from
            self.to = to
            self.overwrite = overwrite
        }
    }

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
