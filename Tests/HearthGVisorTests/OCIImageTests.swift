import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import Testing

/// `--image` takes an OCI image layout, as a directory or a tar. The test builds a small image with
/// umoci: a dynamic `cat` with its libraries, and a marker file.
@Suite(.serialized, .timeLimit(.minutes(5))) struct OCIImageTests {
    @Test func anOCILayoutDirectoryOrTarBecomesAWorkspaceImage() async throws {
        let server = try await LiveServer.shared.value
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-oci-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        let layout = try Self.buildImage(in: work)
        // The operator imports from the import directory only, by name.
        let name = "oci-\(UUID().uuidString.prefix(8).lowercased())"
        let imports = server.dataDirectory + "/imports"
        try Self.run(["cp", "-a", layout, "\(imports)/\(name)"])

        let fromDirectory = try await server.client.create(API.CreateWorkspaceBody(name: "oci-dir", image: "oci:\(name)"))
        #expect(fromDirectory.image.hasPrefix("sha256:"))
        #expect(try await server.client.run(fromDirectory.id, ["cat", "/etc/hearth-oci"]).stdoutText == "from an OCI layout\n")
        // Only what the image holds: no shell, no coreutils beyond cat.
        #expect(try await server.client.run(fromDirectory.id, ["ls"]).code == 127)

        // The same image as a tar resolves to the same content address, unpacked once.
        try Self.run(["/bin/tar", "-cf", "\(imports)/\(name).tar", "-C", layout, "."])
        let fromTar = try await server.client.create(API.CreateWorkspaceBody(name: "oci-tar", image: "oci:\(name).tar"))
        #expect(fromTar.image == fromDirectory.image)
        #expect(try await server.client.run(fromTar.id, ["cat", "/etc/hearth-oci"]).stdoutText == "from an OCI layout\n")
        // Copy-on-write: a write in one workspace is not seen by the other.
        try await server.client.upload(fromTar.id, path: "/etc/hearth-oci", length: 4, body: LiveServer.chunks(Array("new\n".utf8)))
        #expect(try await server.client.run(fromDirectory.id, ["cat", "/etc/hearth-oci"]).stdoutText == "from an OCI layout\n")
        // The digest now names the image for the operator's tenant.
        let byDigest = try await server.client.create(API.CreateWorkspaceBody(name: "oci-digest", image: fromDirectory.image))
        #expect(byDigest.image == fromDirectory.image)

        // Bad references are clear errors; a host path is never an image.
        for (image, code) in [("oci:missing-\(name)", "not_found"), ("oci:../\(name)", "invalid_argument"), (work + "/layout", "invalid_argument"),
                              ("/etc", "invalid_argument"), ("sha256:" + String(repeating: "0", count: 64), "not_found"),
                              ("sha256:\(String(repeating: "0", count: 64))/../../x", "not_found")] {
            do {
                _ = try await server.client.create(API.CreateWorkspaceBody(image: image))
                Issue.record("\(image) must not become an image")
            } catch let failure as HearthClient.Failure {
                #expect(failure.code == code, "\(image): \(failure)")
            }
        }
        for w in [fromDirectory, fromTar, byDigest] { try await server.client.delete(w.id) }
    }

    /// An OCI layout at `work/layout` holding `cat`, the libraries it loads and `/etc/hearth-oci`.
    static func buildImage(in work: String) throws -> String {
        let rootfs = work + "/rootfs"
        let fm = FileManager.default
        for dir in ["usr/bin", "usr/lib/x86_64-linux-gnu", "usr/lib64", "etc"] {
            try fm.createDirectory(atPath: "\(rootfs)/\(dir)", withIntermediateDirectories: true)
        }
        for link in ["bin", "lib", "lib64"] { try fm.createSymbolicLink(atPath: "\(rootfs)/\(link)", withDestinationPath: "usr/\(link)") }
        try fm.copyItem(atPath: "/usr/bin/cat", toPath: rootfs + "/usr/bin/cat")
        for library in ["libc.so.6"] {
            try fm.copyItem(atPath: "/usr/lib/x86_64-linux-gnu/\(library)", toPath: "\(rootfs)/usr/lib/x86_64-linux-gnu/\(library)")
        }
        let loader = URL(fileURLWithPath: "/lib64/ld-linux-x86-64.so.2").resolvingSymlinksInPath().path
        try fm.copyItem(atPath: loader, toPath: rootfs + "/usr/lib64/ld-linux-x86-64.so.2")
        try "from an OCI layout\n".write(toFile: rootfs + "/etc/hearth-oci", atomically: true, encoding: .utf8)
        let layout = work + "/layout"
        try run(["umoci", "init", "--layout", layout])
        try run(["umoci", "new", "--image", layout + ":test"])
        try run(["umoci", "insert", "--image", layout + ":test", rootfs, "/"])
        return layout
    }

    static func run(_ argv: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CommandFailed(argv: argv) }
    }

    struct CommandFailed: Error { var argv: [String] }
}
