public import HearthAgentCore
import Foundation
import HearthCore

/// The tools an agent runs inside its workspace, through the workspace's agent (exec with an argv,
/// never a shell line built on the host): `bash`, `read_file`, `write_file`, `edit_file`,
/// `list_files`, `search`. Nothing here runs on the host; the provider key is not in any exec's
/// environment. Arguments come from a model and are treated as hostile: parsed with bounds, numbers
/// clamped, paths passed as argv after `--`.
public struct AgentWorkspaceTools: ToolRunner {
    let workspaces: WorkspaceManager
    let workspaceId: String

    /// A tool's output reaches the model cut to this many bytes: the first and last halves, with
    /// the number of bytes left out between them.
    public static let outputLimit = 16 * 1024
    public static let defaultBashTimeout = 120
    public static let maxBashTimeout = 900
    /// What `read_file` returns at most, and the largest file `edit_file` rewrites.
    public static let maxFileBytes = 256 * 1024
    public static let maxWriteBytes = 1 << 20
    static let workspaceRoot = "/workspace"

    public init(workspaces: WorkspaceManager, workspaceId: String) {
        self.workspaces = workspaces
        self.workspaceId = workspaceId
    }

    public var tools: [ToolSpec] { Self.specs }

    /// A tool name as records may keep it: one of these tools, or `unknown` (a model names calls).
    public static func knownName(_ name: String) -> String { specs.contains { $0.name == name } ? name : "unknown" }

    public static let specs: [ToolSpec] = [
        ToolSpec(name: "bash", description: "Run a bash command in /workspace. Output is cut to 16 KiB (head and tail). The timeout (default 120 s, at most 900 s) kills the whole process group.",
                 parametersSchemaJSON: #"{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"integer","minimum":1,"maximum":900}},"required":["command"]}"#),
        ToolSpec(name: "read_file", description: "Read a file (at most 256 KiB). Relative paths are under /workspace.",
                 parametersSchemaJSON: #"{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}"#),
        ToolSpec(name: "write_file", description: "Write a whole file, making its directories.",
                 parametersSchemaJSON: #"{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"required":["path","content"]}"#),
        ToolSpec(name: "edit_file", description: "Replace old_string, which must occur exactly once, with new_string.",
                 parametersSchemaJSON: #"{"type":"object","properties":{"path":{"type":"string"},"old_string":{"type":"string"},"new_string":{"type":"string"}},"required":["path","old_string","new_string"]}"#),
        ToolSpec(name: "list_files", description: "List files under a directory (default /workspace, depth 2).",
                 parametersSchemaJSON: #"{"type":"object","properties":{"path":{"type":"string"},"depth":{"type":"integer","minimum":1,"maximum":8}}}"#),
        ToolSpec(name: "search", description: "Search files for an extended regular expression (at most 20 matches per file).",
                 parametersSchemaJSON: #"{"type":"object","properties":{"pattern":{"type":"string"},"path":{"type":"string"}},"required":["pattern"]}"#),
    ]

    public func run(_ call: ToolCall) async -> ToolOutcome {
        let arguments: [String: Any]
        do {
            arguments = try Self.arguments(call.argumentsJSON)
        } catch {
            return ToolOutcome(content: "the arguments are not a JSON object", isError: true)
        }
        do {
            switch call.name {
            case "bash": return try await bash(arguments)
            case "read_file": return try await readFile(arguments)
            case "write_file": return try await writeFile(arguments)
            case "edit_file": return try await editFile(arguments)
            case "list_files": return try await listFiles(arguments)
            case "search": return try await search(arguments)
            default: return ToolOutcome(content: "no tool named \(call.name.prefix(64))", isError: true)
            }
        } catch let error as ToolArgumentError {
            return ToolOutcome(content: error.message, isError: true)
        } catch let error as HearthError {
            return ToolOutcome(content: "the workspace could not run the tool: \(error.message)", isError: true)
        } catch {
            return ToolOutcome(content: "the workspace could not run the tool", isError: true)
        }
    }

    // MARK: Tools

    func bash(_ arguments: [String: Any]) async throws -> ToolOutcome {
        let command = try Self.string(arguments, "command")
        let timeout = Self.clampedTimeout(arguments["timeout"])
        let result = try await exec(["bash", "-c", command], timeoutSeconds: timeout)
        var content = result.stdout.text
        if !result.stderr.isEmpty { content += (content.isEmpty ? "" : "\n") + "[stderr]\n" + result.stderr.text }
        if result.exit.timedOut { content += "\n[killed after \(timeout) s: the whole process group]" }
        content += "\n[exit \(result.exit.code)]"
        return ToolOutcome(content: content, isError: result.exit.code != 0, exitCode: result.exit.code,
                           truncated: result.stdout.omitted > 0 || result.stderr.omitted > 0)
    }

    func readFile(_ arguments: [String: Any]) async throws -> ToolOutcome {
        let path = try Self.path(arguments, "path")
        let result = try await exec(["head", "-c", String(Self.maxFileBytes + 1), "--", path], timeoutSeconds: 30, limit: Self.maxFileBytes + 1)
        guard result.exit.code == 0 else { return ToolOutcome(content: result.stderr.text, isError: true, exitCode: result.exit.code) }
        let truncated = result.stdout.total > Self.maxFileBytes
        guard let bytes = result.stdout.whole else { throw ToolArgumentError("the file could not be read whole") }
        let text = String(decoding: bytes.prefix(Self.maxFileBytes), as: UTF8.self)
        return ToolOutcome(content: truncated ? text + "\n[truncated at \(Self.maxFileBytes) bytes]" : text, truncated: truncated)
    }

    func writeFile(_ arguments: [String: Any]) async throws -> ToolOutcome {
        let path = try Self.path(arguments, "path")
        let content = try Self.string(arguments, "content", allowEmpty: true)
        guard content.utf8.count <= Self.maxWriteBytes else { throw ToolArgumentError("content is at most \(Self.maxWriteBytes) bytes") }
        try await write(path, content)
        return ToolOutcome(content: "wrote \(content.utf8.count) bytes to \(path)")
    }

    func editFile(_ arguments: [String: Any]) async throws -> ToolOutcome {
        let path = try Self.path(arguments, "path")
        let old = try Self.string(arguments, "old_string")
        let new = try Self.string(arguments, "new_string", allowEmpty: true)
        let read = try await exec(["head", "-c", String(Self.maxFileBytes + 1), "--", path], timeoutSeconds: 30, limit: Self.maxFileBytes + 1)
        guard read.exit.code == 0 else { return ToolOutcome(content: read.stderr.text, isError: true, exitCode: read.exit.code) }
        guard read.stdout.total <= Self.maxFileBytes, let bytes = read.stdout.whole else {
            throw ToolArgumentError("the file is larger than \(Self.maxFileBytes) bytes")
        }
        // Only valid UTF-8 is edited: decoding would replace invalid bytes and the write would change them.
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ToolArgumentError("\(path) is not UTF-8 text") }
        let count = text.components(separatedBy: old).count - 1
        guard count == 1 else {
            throw ToolArgumentError(count == 0 ? "old_string was not found in \(path)" : "old_string occurs \(count) times in \(path); it must be unique")
        }
        let edited = text.replacingOccurrences(of: old, with: new)
        guard edited.utf8.count <= Self.maxWriteBytes else { throw ToolArgumentError("the edited file would exceed \(Self.maxWriteBytes) bytes") }
        try await write(path, edited)
        return ToolOutcome(content: "edited \(path): 1 replacement")
    }

    func listFiles(_ arguments: [String: Any]) async throws -> ToolOutcome {
        let path = try Self.path(arguments, "path", default: Self.workspaceRoot)
        let depth = Self.clamped(arguments["depth"], default: 2, range: 1...8)
        let result = try await exec(["find", path, "-mindepth", "1", "-maxdepth", String(depth), "-not", "-path", "*/.git/*"], timeoutSeconds: 60)
        return ToolOutcome(content: result.stdout.text + (result.stderr.isEmpty ? "" : "\n[stderr]\n" + result.stderr.text),
                           isError: result.exit.code != 0, exitCode: result.exit.code, truncated: result.stdout.omitted > 0)
    }

    func search(_ arguments: [String: Any]) async throws -> ToolOutcome {
        let pattern = try Self.string(arguments, "pattern")
        guard pattern.utf8.count <= 1024 else { throw ToolArgumentError("pattern is at most 1024 bytes") }
        let path = try Self.path(arguments, "path", default: Self.workspaceRoot)
        let result = try await exec(["grep", "-rInE", "--max-count=20", "--exclude-dir=.git", "-e", pattern, "--", path], timeoutSeconds: 60)
        // grep: 0 found, 1 nothing found, 2 an error.
        let content = result.exit.code == 1 ? "no matches" : result.stdout.text + (result.stderr.isEmpty ? "" : "\n[stderr]\n" + result.stderr.text)
        return ToolOutcome(content: content, isError: result.exit.code > 1, exitCode: result.exit.code, truncated: result.stdout.omitted > 0)
    }

    // MARK: Exec through the control plane

    struct ExecResult {
        var stdout: HeadTailBuffer
        var stderr: HeadTailBuffer
        var exit: ExecExit
    }

    func write(_ path: String, _ content: String) async throws {
        let script = #"mkdir -p -- "$(dirname -- "$1")" && cat > "$1""#
        let result = try await exec(["sh", "-c", script, "sh", path], stdin: Array(content.utf8), timeoutSeconds: 60)
        guard result.exit.code == 0 else { throw ToolArgumentError("cannot write \(path): \(result.stderr.text)") }
    }

    func exec(_ argv: [String], stdin: [UInt8] = [], timeoutSeconds: Int, limit: Int = AgentWorkspaceTools.outputLimit) async throws -> ExecResult {
        let command = ExecCommand(argv: argv, env: ["HOME": "/root", "PATH": "/usr/local/bin:/usr/bin:/bin", "TERM": "dumb"], cwd: Self.workspaceRoot,
                                  timeoutMs: UInt64(timeoutSeconds) * 1000)
        let agent = try await workspaces.agent(for: try await workspaces.resolveWorkspace(granted: workspaceId))
        let session = try await agent.exec(command)
        defer { session.close() }
        do {
            if !stdin.isEmpty { try await session.send(stdin) }
            try await session.sendEOF()
            var result = ExecResult(stdout: HeadTailBuffer(limit: limit), stderr: HeadTailBuffer(limit: Self.outputLimit), exit: ExecExit(code: -1))
            // A cancelled turn ends this iteration at once (the session is cancellation-aware).
            for try await event in session {
                switch event {
                case .stdout(let bytes): result.stdout.append(bytes)
                case .stderr(let bytes): result.stderr.append(bytes)
                case .exited(let exit):
                    result.exit = exit
                    return result
                case .failed(let error): throw error
                default: continue
                }
            }
            throw HearthError(.agentUnavailable, "the workspace ended the command without an exit status")
        } catch {
            // The turn was cancelled: kill the command's whole process group before dropping the session.
            if Task.isCancelled { try? await session.signal(9) }
            throw error
        }
    }

    // MARK: Arguments

    struct ToolArgumentError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    static func arguments(_ json: String) throws -> [String: Any] {
        guard json.utf8.count <= 2 << 20 else { throw ToolArgumentError("arguments too large") }
        if json.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return [:] }
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { throw ToolArgumentError("not an object") }
        return object
    }

    static func string(_ arguments: [String: Any], _ key: String, allowEmpty: Bool = false) throws -> String {
        guard let value = arguments[key] as? String, allowEmpty || !value.isEmpty else { throw ToolArgumentError("\(key) must be a string") }
        guard !value.utf8.contains(0) else { throw ToolArgumentError("\(key) must not contain NUL") }
        return value
    }

    /// A path inside the workspace: relative ones are taken from /workspace. The guest decides
    /// what it names; this only keeps the argv well formed.
    static func path(_ arguments: [String: Any], _ key: String, default fallback: String? = nil) throws -> String {
        guard let raw = arguments[key] as? String, !raw.isEmpty else {
            if let fallback { return fallback }
            throw ToolArgumentError("\(key) must be a path")
        }
        guard raw.utf8.count <= 4096, !raw.utf8.contains(0) else { throw ToolArgumentError("\(key) is not a valid path") }
        return raw.hasPrefix("/") ? raw : workspaceRoot + "/" + raw
    }

    static func clampedTimeout(_ value: Any?) -> Int {
        clamped(value, default: defaultBashTimeout, range: 1...maxBashTimeout)
    }

    /// A model's number, never trusted: non-numbers take the default, the rest are clamped.
    public static func clamped(_ value: Any?, default fallback: Int, range: ClosedRange<Int>) -> Int {
        guard let number = value as? NSNumber else { return fallback }
        let double = number.doubleValue
        guard double.isFinite else { return fallback }
        if double <= Double(range.lowerBound) { return range.lowerBound }
        if double >= Double(range.upperBound) { return range.upperBound }
        return Int(double)
    }
}

/// Keeps the first and last `limit / 2` bytes of an output and counts the rest.
struct HeadTailBuffer {
    let limit: Int
    var head: [UInt8] = []
    var tail: [UInt8] = []
    var total = 0

    init(limit: Int) { self.limit = max(2, limit) }

    var isEmpty: Bool { total == 0 }
    var omitted: Int { total - head.count - tail.count }
    /// Everything that was appended, when nothing was cut: head and tail are contiguous then.
    /// (`head` alone is only the first half: a file read through `head` lost its second half.)
    var whole: [UInt8]? { omitted == 0 ? head + tail : nil }

    mutating func append(_ bytes: [UInt8]) {
        total &+= bytes.count
        let half = limit / 2
        var rest = bytes[...]
        if head.count < limit - half {
            let take = min(limit - half - head.count, rest.count)
            head += rest.prefix(take)
            rest = rest.dropFirst(take)
        }
        guard !rest.isEmpty else { return }
        tail += rest.suffix(half)
        if tail.count > half { tail.removeFirst(tail.count - half) }
    }

    var text: String {
        let omitted = self.omitted
        let middle = omitted > 0 ? "\n…[\(omitted) bytes omitted]…\n" : ""
        return String(decoding: head, as: UTF8.self) + middle + String(decoding: tail, as: UTF8.self)
    }
}
