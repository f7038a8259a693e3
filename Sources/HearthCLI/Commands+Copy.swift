import ArgumentParser
import Foundation
import HearthClient
import NIOCore

struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cp", abstract: "Copy a file into or out of a workspace; one side is WS:/path.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Source: a local path or WS:/path") var source: String
    @Argument(help: "Destination: a local path or WS:/path") var destination: String

    static func remote(_ spec: String) -> (String, String)? {
        guard let colon = spec.firstIndex(of: ":"), colon != spec.startIndex, !spec.hasPrefix("/"), !spec.hasPrefix(".") else { return nil }
        return (String(spec[..<colon]), String(spec[spec.index(after: colon)...]))
    }

    func run() async throws {
        let c = try client.client()
        switch (Self.remote(source), Self.remote(destination)) {
        case (nil, let (ws, path)?):
            guard let handle = FileHandle(forReadingAtPath: source) else { throw ValidationError("cannot read \(source)") }
            let attributes = try FileManager.default.attributesOfItem(atPath: source)
            let size = (attributes[.size] as? NSNumber)?.int64Value
            let mode = (attributes[.posixPermissions] as? NSNumber)?.uint32Value
            try await withClientErrors {
                try await c.upload(ws, path: path, mode: mode, length: size, body: FileChunks(handle: handle))
            }
        case (let (ws, path)?, nil):
            let temporary = destination + ".hearth-partial"
            guard FileManager.default.createFile(atPath: temporary, contents: nil), let out = FileHandle(forWritingAtPath: temporary) else {
                throw ValidationError("cannot write \(destination)")
            }
            do {
                try await withClientErrors {
                    try await c.download(ws, path: path) { buffer in out.write(Data(buffer.readableBytesView)) }
                }
                try out.close()
                _ = try? FileManager.default.removeItem(atPath: destination)
                try FileManager.default.moveItem(atPath: temporary, toPath: destination)
            } catch {
                try? FileManager.default.removeItem(atPath: temporary)
                throw error
            }
        default:
            throw ValidationError("exactly one of SRC and DST must be WS:/path")
        }
    }
}

/// A local file as a sequence of 256 KiB buffers.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let handle: FileHandle
    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        mutating func next() async throws -> ByteBuffer? {
            guard let data = try handle.read(upToCount: 256 * 1024), !data.isEmpty else { return nil }
            return ByteBuffer(bytes: data)
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle) }
}
