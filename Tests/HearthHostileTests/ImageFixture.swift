import Foundation

/// Small OCI layouts made with umoci for the image attacks: one marker file, no binaries.
enum ImageFixture {
    static func layout(at layout: String, marker: String) throws {
        let work = layout + ".src"
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work + "/etc", withIntermediateDirectories: true)
        try (marker + "\n").write(toFile: work + "/etc/hearth-oci", atomically: true, encoding: .utf8)
        try run(["umoci", "init", "--layout", layout])
        try run(["umoci", "new", "--image", layout + ":latest"])
        try run(["umoci", "insert", "--image", layout + ":latest", work, "/"])
    }

    /// Rewrites the layout so its index claims `digest` and the manifest's bytes sit at that name.
    static func claim(_ layout: String, digest: String) throws {
        let indexURL = URL(fileURLWithPath: layout + "/index.json")
        var index = try require(try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any])
        var manifests = try require(index["manifests"] as? [[String: Any]])
        let real = try require((manifests[0]["digest"] as? String)?.split(separator: ":").last.map(String.init))
        try FileManager.default.copyItem(atPath: "\(layout)/blobs/sha256/\(real)", toPath: "\(layout)/blobs/sha256/\(digest)")
        manifests[0]["digest"] = "sha256:" + digest
        index["manifests"] = manifests
        try JSONSerialization.data(withJSONObject: index).write(to: indexURL)
    }

    static func run(_ argv: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failed(argv: argv) }
    }

    struct Failed: Error { var argv: [String] }
}

private func require<T>(_ value: T?) throws -> T {
    guard let value else { throw ImageFixture.Failed(argv: ["require"]) }
    return value
}
