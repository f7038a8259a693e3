import Foundation
import Testing

/// The README runs `hearth doctor` through PATH. Run that way from an unrelated directory, with no
/// HEARTH_AGENT_DIR, it must find the agent bundle next to the executable (/proc/self/exe), not
/// look for `<cwd>/hearth-agent`. Needs root and runsc: doctor probes gVisor by starting a sandbox.
@Suite(.timeLimit(.minutes(3))) struct DoctorThroughPathTests {
    @Test func doctorRunThroughPathFromAnotherDirectoryFindsTheBundle() throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        // The test binary sits in the build products directory, next to `hearth`.
        var products = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: products.appendingPathComponent("hearth").path), products.path != "/" {
            products = products.deletingLastPathComponent()
        }
        try #require(FileManager.default.isExecutableFile(atPath: products.appendingPathComponent("hearth").path), "build the hearth product first")
        let elsewhere = NSTemporaryDirectory() + "doctor-cwd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["hearth", "doctor", "--json", "--qemu-acceleration", "tcg", "--data", elsewhere + "/data"]
        var environment = ProcessInfo.processInfo.environment
        environment["HEARTH_AGENT_DIR"] = nil
        environment["PATH"] = products.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: elsewhere)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(!text.contains("missing from"), "\(text)")
        #expect(!text.contains(elsewhere + "/hearth-agent"), "\(text)")
        #expect(text.contains("\"runtime\""), "doctor printed its JSON report: \(text)")
    }
}
