import ArgumentParser
import Foundation
import HearthClient
import NIOCore
import NIOPosix

struct PortForward: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "port-forward",
        abstract: "Forward a local TCP port to a port inside a workspace (through its agent; the workspace's network stays closed).")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Workspace id or name") var workspace: String
    @Argument(help: "Port inside the workspace") var port: UInt16
    @Option(help: "Local address to listen on, HOST:PORT (port 0 picks one)") var listen: String = "127.0.0.1:0"

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let localPort = Int(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--listen takes HOST:PORT")
        }
        let c = try client.client()
        let workspace = self.workspace, port = Int(self.port)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: String(listen[..<colon]), port: localPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel,
                                                                configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        let bound = server.channel.localAddress?.port ?? localPort
        // Written unbuffered: scripts read the bound port from a pipe.
        FileHandle.standardOutput.write(Data("forwarding \(listen[..<colon]):\(bound) -> \(workspace):\(port) (Ctrl-C stops)\n".utf8))
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask {
                        do {
                            try await Self.forward(connection, client: c, workspace: workspace, port: port)
                        } catch {
                            FileHandle.standardError.write(Data("hearth: port \(port): \(error)\n".utf8))
                        }
                    }
                }
            }
        }
    }

    static func forward(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, client: HearthClient, workspace: String, port: Int) async throws {
        try await connection.executeThenClose { inbound, outbound in
            try await client.tunnel(workspace, port: port, send: { writer in
                for try await buffer in inbound { try await writer.write(buffer) }
                try await writer.finish()
            }, receive: { buffer in
                try await outbound.write(buffer)
            })
            outbound.finish()
        }
    }
}
