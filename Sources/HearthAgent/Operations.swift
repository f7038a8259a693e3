#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

/// Runs one request on its stream. Every operation ends with `result`, `failed` or `exited`.
enum Operations {
    static func run(_ request: Request, on stream: AgentStream, context: AgentContext) {
        do throws(WireError) {
            switch request {
            case .health:
                let uptime = (monotonicNanos() - context.startedAtNanos) / 1_000_000
                stream.sendControl(.result(.health(AgentHealth(
                    version: WireVersion.current, agent: context.agentName, pid: getpid(), uptimeMs: uptime))))
            case .exec(let exec):
                try ExecOperation(request: exec, stream: stream, context: context).run()
            case .readFile(let path, let offset, let length):
                try FileOperations.read(path: path, offset: offset, length: length, stream: stream)
            case .writeFile(let path, let mode, let parents, let unchangedSince):
                try FileOperations.write(path: path, mode: mode, createParents: parents, ifUnchangedSince: unchangedSince, stream: stream)
            case .listDirectory(let path):
                stream.sendControl(.result(.directory(try FileOperations.list(path))))
            case .stat(let path):
                stream.sendControl(.result(.file(try FileOperations.stat(path))))
            case .makeDirectory(let path, let parents):
                try FileOperations.makeDirectory(path, parents: parents)
                stream.sendControl(.result(.ok))
            case .remove(let path, let recursive):
                try FileOperations.remove(path, recursive: recursive)
                stream.sendControl(.result(.ok))
            case .move(let from, let to, let overwrite):
                try FileOperations.move(from, to, overwrite: overwrite)
                stream.sendControl(.result(.ok))
            case .listPorts:
                stream.sendControl(.result(.ports(PortScanner.listening())))
            case .tunnel(let port):
                try TunnelOperation.run(port: port, stream: stream)
            case .attachTerminal(let session):
                try DetachableTerminals.attach(session, on: stream)
            case .syncChannel:
                context.sync.serve(stream)
            case .shutdown:
                stream.sendControl(.result(.ok))
                PowerOff.now()
            }
        } catch {
            stream.sendControl(.failed(error))
        }
    }
}

enum PowerOff {
    static func now() {
        guard getpid() == 1 else { exit(0) }
        sync()
        kill(-1, SIGTERM)
        usleep(200_000)
        kill(-1, SIGKILL)
        sync()
        hearth_power_off()
        exit(0)
    }
}
