#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// First frame each side sends on stream 0. A guest answers a host `Hello` with its own.
public struct Hello: Codable, Sendable, Equatable {
    public var version: Int
    public var agent: String
    /// A fresh value per host connection; lets the guest tell a new session from a replayed one.
    public var session: String
    /// Host (version 3): a fresh random challenge the agent must answer with `proof`.
    public var challenge: String?
    /// Agent (version 3): `AgentAuthentication.proof(secret:challenge:)` for the host's challenge.
    public var proof: String?

    public init(version: Int = WireVersion.current, agent: String, session: String,
                challenge: String? = nil, proof: String? = nil) {
        self.version = version
        self.agent = agent
        self.session = session
        self.challenge = challenge
        self.proof = proof
    }
}

/// What a host asks for when it opens a stream.
public enum Request: Codable, Sendable, Equatable {
    case health
    case exec(ExecRequest)
    case readFile(path: String, offset: UInt64?, length: UInt64?)
    /// Host sends the content as `data` on `.bytes`, then `eof`. The guest replaces the file atomically.
    /// With `ifUnchangedSince` (version 4), only if the file's mtime is still that one (within half
    /// a millisecond) or the file does not exist; otherwise it fails with `changed`.
    case writeFile(path: String, mode: UInt32?, createParents: Bool, ifUnchangedSince: Double? = nil)
    case listDirectory(path: String)
    case stat(path: String)
    case makeDirectory(path: String, parents: Bool)
    case remove(path: String, recursive: Bool)
    case move(from: String, to: String, overwrite: Bool)
    case listPorts
    /// Full-duplex bytes on `.bytes` to a TCP port on the guest's loopback.
    case tunnel(port: UInt16)
    /// Powers the guest off cleanly (only meaningful when the agent is PID 1).
    case shutdown
    /// Re-binds this stream to a detachable terminal (an exec with `session`) whose stream went
    /// away (a pause, a server restart): what it printed since (its newest 64 KiB) comes first,
    /// then live output, input, resize and signals as on the stream that started it.
    case attachTerminal(session: String)
    /// Version 6: the channel on which the agent asks the host for durability barriers
    /// (`hearth-sync` inside the workspace). The host opens one per connection and keeps it open;
    /// the agent sends `syncWanted`, the host answers each with `synced` or `syncFailed`.
    case syncChannel
}

public struct ExecRequest: Codable, Sendable, Equatable {
    public var argv: [String]
    public var env: [String: String]
    public var cwd: String?
    public var user: String?
    /// Milliseconds after which the process group is killed.
    public var timeoutMs: UInt64?
    /// Run on a new PTY instead of pipes; stdout and stderr are then one stream on `.bytes`.
    public var pty: PTYSize?
    /// With `pty`: a detachable terminal under this key (host-chosen, unguessable). When its
    /// stream goes away the process keeps running, and `attachTerminal` re-binds it.
    public var session: String?

    /// A detachable terminal: `pty` under the key `session`.
    public init(argv: [String], env: [String: String] = [:], cwd: String? = nil, user: String? = nil,
                pty: PTYSize, session: String) {
        self.init(argv: argv, env: env, cwd: cwd, user: user, timeoutMs: nil, pty: pty)
        self.session = session
    }

    public init(argv: [String], env: [String: String] = [:], cwd: String? = nil, user: String? = nil,
                timeoutMs: UInt64? = nil, pty: PTYSize? = nil) {
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.user = user
        self.timeoutMs = timeoutMs
        self.pty = pty
    }
}

public struct PTYSize: Codable, Sendable, Equatable {
    public var rows: UInt16
    public var cols: UInt16
    public init(rows: UInt16, cols: UInt16) {
        self.rows = rows
        self.cols = cols
    }
}

/// Typed messages inside a stream, in either direction.
public enum Control: Codable, Sendable, Equatable {
    /// Guest: the process started.
    case started(pid: Int32)
    /// Guest: the process ended. Sent after all of its output.
    case exited(ExitStatus)
    /// Guest: the operation finished with this result.
    case result(Reply)
    /// Guest: the operation failed.
    case failed(WireError)
    /// Host: resize the PTY.
    case resize(PTYSize)
    /// Host: send a signal to the process group.
    case signal(Int32)
    /// Guest, on `syncChannel` (version 6): make durable everything written before ticket `ticket`
    /// was issued. Tickets grow; the agent has at most one unanswered.
    case syncWanted(ticket: UInt64)
    /// Host, on `syncChannel`: everything up to `ticket` is in generation `generation`.
    case synced(ticket: UInt64, generation: UInt64)
    /// Host, on `syncChannel`: the barrier for tickets up to `ticket` failed.
    case syncFailed(ticket: UInt64, WireError)
}

public struct ExitStatus: Codable, Sendable, Equatable {
    /// Exit code, or 128 + signal when killed.
    public var code: Int32
    public var signal: Int32?
    public var timedOut: Bool
    public init(code: Int32, signal: Int32? = nil, timedOut: Bool = false) {
        self.code = code
        self.signal = signal
        self.timedOut = timedOut
    }
}

public enum Reply: Codable, Sendable, Equatable {
    case ok
    case health(AgentHealth)
    case file(FileStat)
    case directory([FileStat])
    case ports([ListeningPort])
    case written(bytes: UInt64)
}

public struct AgentHealth: Codable, Sendable, Equatable {
    public var version: Int
    public var agent: String
    public var pid: Int32
    public var uptimeMs: UInt64
    public init(version: Int, agent: String, pid: Int32, uptimeMs: UInt64) {
        self.version = version
        self.agent = agent
        self.pid = pid
        self.uptimeMs = uptimeMs
    }
}

public struct FileStat: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case file, directory, symlink, other }
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
}

public struct ListeningPort: Codable, Sendable, Equatable, Hashable {
    public var port: UInt16
    public var address: String
    public var family: String
    public init(port: UInt16, address: String, family: String) {
        self.port = port
        self.address = address
        self.family = family
    }
}

/// JSON for frame payloads. One place, so both sides encode identically.
public enum WireCoding {
    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        // Encoding our own value types cannot fail.
        Array((try? JSONEncoder().encode(value)) ?? Data())
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(WireError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw WireError(.malformedFrame, "undecodable \(T.self) payload")
        }
    }
}

extension Frame {
    public static func provision(_ secret: [UInt8]) -> Frame { Frame(kind: .provision, stream: 0, payload: secret) }
    public static func hello(_ hello: Hello) -> Frame { Frame(kind: .hello, stream: 0, payload: WireCoding.encode(hello)) }
    public static func open(_ stream: UInt32, _ request: Request) -> Frame {
        Frame(kind: .open, stream: stream, payload: WireCoding.encode(request))
    }
    public static func control(_ stream: UInt32, _ control: Control) -> Frame {
        Frame(kind: .control, stream: stream, payload: WireCoding.encode(control))
    }
    /// From the host: abandon the operation. From the agent: the operation has ended, after its
    /// last frame, and reads no more input; with an error, it broke off.
    public static func reset(_ stream: UInt32, _ error: WireError?) -> Frame {
        Frame(kind: .reset, stream: stream, payload: error.map(WireCoding.encode) ?? [])
    }
}
