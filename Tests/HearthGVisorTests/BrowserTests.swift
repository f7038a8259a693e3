import Foundation
import HearthServerTestKit
import Testing

/// The web IDE's real flows in headless Chromium against a real server and sandbox, driven by
/// `Tests/browser/ide_flows.py` (selenium). Screenshots of every step are kept in
/// `.build/test-artifacts/browser`.
@Suite(.serialized, .timeLimit(.minutes(10))) struct BrowserTests {
    @Test func signInTerminalEditorPreviewAndReload() async throws {
        let server = try await LiveServer.start()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let screenshots = root + "/.build/test-artifacts/browser"
        try? FileManager.default.removeItem(atPath: screenshots)
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = [root + "/Tests/browser/ide_flows.py", "--url", server.url,
                            "--password-file", server.dataDirectory + "/admin.password",
                            "--token-file", server.dataDirectory + "/admin.token", "--screenshots", screenshots]
        let output = Pipe()
        python.standardOutput = output
        python.standardError = output
        try python.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        print(text)
        #expect(python.terminationStatus == 0, "browser flows failed:\n\(text)")
        #expect(text.contains("all browser flows passed"))
        let shots = (try? FileManager.default.contentsOfDirectory(atPath: screenshots)) ?? []
        #expect(shots.filter { $0.hasSuffix(".png") }.count >= 8)
        for w in try await server.client.list() { try await server.client.delete(w.id) }
    }
}
