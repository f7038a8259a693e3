import Foundation
public import HearthClient
import HearthAPI

/// What every runtime must do when a workspace's disk fills, checked through the public API: the
/// writer gets ENOSPC, an upload gets a 507 `no_space`, the file it would have replaced is intact
/// and no temporary file is left; once space is freed, writes work again. The workspace must hold
/// `/workspace/note` containing `kept\n` and have less than `fillMiB` free.
public enum FullDiskCheck {
    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    public static func run(_ client: HearthClient, _ id: String, fillMiB: Int, uploadBytes: Int) async throws {
        func require(_ condition: Bool, _ what: @autoclosure () -> String) throws {
            if !condition { throw Failed(description: what()) }
        }
        let fill = try await client.run(id, ["dd", "if=/dev/zero", "of=/workspace/fill", "bs=1M", "count=\(fillMiB)"])
        try require(fill.code != 0 && fill.stderrText.contains("No space left"), "dd on a full disk: \(fill.code ?? -1) \(fill.stderrText)")
        let blob = [UInt8](repeating: 7, count: uploadBytes)
        do {
            try await client.upload(id, path: "/workspace/note", length: Int64(blob.count), body: LiveServer.chunks(blob))
            throw Failed(description: "a write to a full disk succeeded")
        } catch let failure as HearthClient.Failure {
            try require(failure.status == 507 && failure.code == "no_space", "upload to a full disk: \(failure)")
        }
        let note = try await client.run(id, ["cat", "/workspace/note"]).stdoutText
        try require(note == "kept\n", "the replaced file changed: \(note)")
        let leftovers = try await client.run(id, ["sh", "-c", "ls -a /workspace | grep -c hearth || true"]).stdoutText
        try require(leftovers == "0\n", "temporary files left: \(leftovers)")
        let state = try await client.get(id).state
        try require(state == "running", "the workspace is \(state)")
        _ = try await client.run(id, ["rm", "/workspace/fill"])
        try await client.upload(id, path: "/workspace/blob", length: Int64(blob.count), body: LiveServer.chunks(blob))
        let size = try await client.run(id, ["stat", "-c", "%s", "/workspace/blob"]).stdoutText
        try require(size == "\(blob.count)\n", "a write after freeing space: \(size)")
    }
}
