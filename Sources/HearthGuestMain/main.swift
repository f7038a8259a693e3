#if canImport(Glibc)
import Glibc
#endif
import HearthAgent

// hearth-guest serve [--listen PATH]   serve stdio (and a unix socket) as the sandbox's agent
// hearth-guest bridge [ADDRESS]        connect stdio to a running agent's socket (@name: abstract)
// hearth-guest spawn-helper            internal: child-side setup before execve
let arguments = CommandLine.arguments
// hearth-guest init (or run as /init)      PID 1 of a microVM: boot, then serve a virtio-serial port
// hearth-sync [--timeout S] (a link to this executable)  a durability barrier inside the workspace
let calledAs = arguments[0].split(separator: "/").last.map(String.init) ?? arguments[0]
let command = getpid() == 1 && arguments[0].hasSuffix("init") ? "init"
    : calledAs == GuestSyncCommand.name ? "sync" : (arguments.count > 1 ? arguments[1] : "serve")

func executablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : arguments[0]
}

switch command {
case "spawn-helper":
    SpawnHelper.main()
case "bridge":
    exit(AgentServer.bridge(path: arguments.count > 2 ? arguments[2] : AgentServer.defaultSocket))
case "serve":
    // Same-uid workspace processes may not ptrace us or read our memory (the per-boot secret).
    AgentServer.makeNonDumpable()
    signal(SIGPIPE, SIG_IGN)
    AgentServer.handleTermination()
    let context = AgentContext(executablePath: executablePath())
    if let index = arguments.firstIndex(of: "--listen"), index + 1 < arguments.count {
        // Inside a sandbox (the host reaches the agent through its socket): serve hearth-sync too.
        AgentServer.listen(path: arguments[index + 1], context: context)
        GuestSyncCommand.listen(relay: context.sync)
        GuestSyncCommand.installLink(agentPath: context.executablePath)
    }
    AgentServer.serveStdio(context: context)
case "init":
    GuestInit.run()
case "sync":
    exit(GuestSyncCommand.run(arguments: calledAs == GuestSyncCommand.name ? Array(arguments.dropFirst()) : Array(arguments.dropFirst(2))))
case "version":
    print("hearth-guest \(AgentContext(executablePath: "").agentName)")
default:
    let usage = "usage: hearth-guest serve [--listen PATH] | bridge PATH | sync [--timeout S] | version\n"
    _ = usage.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
