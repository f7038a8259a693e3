public import HearthCore
import HearthWire

/// A file or directory in a workspace, as its agent described it. The guest's numbers are not
/// trusted: callers that turn `size` into a length check it (`Int(exactly:)`).
public struct WorkspaceFile: Sendable, Equatable {
    public enum Kind: String, Sendable { case file, directory, symlink, other }
    public var name: String
    public var kind: Kind
    public var size: UInt64
    public var mode: UInt32
    public var mtime: Double
    public var linkTarget: String?

    public init(name: String, kind: Kind, size: UInt64, mode: UInt32, mtime: Double, linkTarget: String? = nil) {
        self.name = name
        self.kind = kind
        self.size = size
        self.mode = mode
        self.mtime = mtime
        self.linkTarget = linkTarget
    }

    init(_ stat: FileStat) {
        let kind: Kind = switch stat.kind {
        case .file: .file
        case .directory: .directory
        case .symlink: .symlink
        case .other: .other
        }
        self.init(name: stat.name, kind: kind, size: stat.size, mode: stat.mode, mtime: stat.mtime, linkTarget: stat.linkTarget)
    }
}

/// A TCP port something listens on inside the workspace.
public struct WorkspacePort: Sendable, Equatable, Hashable {
    public var port: UInt16
    public var address: String
    public var family: String
}

/// The size of a terminal, in character cells.
public struct TerminalSize: Sendable, Equatable {
    public var rows: UInt16
    public var cols: UInt16
    public init(rows: UInt16, cols: UInt16) {
        self.rows = rows
        self.cols = cols
    }
}

/// A process to run in a workspace.
public struct ExecCommand: Sendable, Equatable {
    public var argv: [String]
    public var env: [String: String]
    public var cwd: String?
    public var user: String?
    /// Milliseconds after which the agent kills the process group.
    public var timeoutMs: UInt64?
    /// Run on a new PTY of this size instead of pipes; output then comes as `stdout` only.
    public var pty: TerminalSize?
    /// With `pty`: a detachable terminal under this key (host-chosen, unguessable). When its
    /// session goes away the process keeps running, and `WorkspaceAgent.attachTerminal` re-binds it.
    public var session: String?

    public init(argv: [String], env: [String: String] = [:], cwd: String? = nil, user: String? = nil,
                timeoutMs: UInt64? = nil, pty: TerminalSize? = nil) {
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.user = user
        self.timeoutMs = timeoutMs
        self.pty = pty
    }

    /// A detachable terminal: `pty` under the key `session`.
    public init(argv: [String], env: [String: String] = [:], cwd: String? = nil, user: String? = nil,
                pty: TerminalSize, session: String) {
        self.init(argv: argv, env: env, cwd: cwd, user: user, timeoutMs: nil, pty: pty)
        self.session = session
    }

    var wire: ExecRequest {
        var request = ExecRequest(argv: argv, env: env, cwd: cwd, user: user, timeoutMs: timeoutMs,
                                  pty: pty.map { PTYSize(rows: $0.rows, cols: $0.cols) })
        request.session = session
        return request
    }
}

/// How a process ended.
public struct ExecExit: Sendable, Equatable {
    /// Exit code, or 128 + signal when killed.
    public var code: Int32
    public var signal: Int32?
    public var timedOut: Bool

    public init(code: Int32, signal: Int32? = nil, timedOut: Bool = false) {
        self.code = code
        self.signal = signal
        self.timedOut = timedOut
    }

    init(_ status: ExitStatus) { self.init(code: status.code, signal: status.signal, timedOut: status.timedOut) }
}

/// What a running process reports. `exited` or `failed` is always the last event.
public enum ExecEvent: Sendable {
    case started(pid: Int32)
    /// Standard output; a PTY's output comes here too.
    case stdout([UInt8])
    case stderr([UInt8])
    case exited(ExecExit)
    /// The agent refused or lost the process; no exit status will come.
    case failed(HearthError)
}
