import Foundation
import HearthHost
import HearthLLMTestKit
import HearthServerTestKit
import Logging
import Testing

/// The web IDE's real flows in headless Chromium and Firefox ESR against a real server and
/// sandbox, driven by `Tests/browser/ide_flows.py`: selenium for Chromium, Marionette for Firefox
/// (Debian has no geckodriver). Screenshots of every step are kept in
/// `.build/test-artifacts/browser/{chromium,firefox}`.
@Suite(.serialized, .timeLimit(.minutes(15))) struct BrowserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func chromium() async throws {
        try await Self.runFlows(browser: "chromium", python: "/usr/bin/python3")
    }

    @Test func firefox() async throws {
        // scripts/setup.sh (HEARTH_SETUP_BROWSER=1) makes this venv with marionette_driver.
        try await Self.runFlows(browser: "firefox", python: Self.root + "/.build/browser-venv/bin/python")
    }

    static func runFlows(browser: String, python path: String) async throws {
        // The whole agent session flow talks to the real model (llama.cpp + SmolLM2, its tool
        // calls forced); without the model installed, the other flows run and it says it skipped.
        guard LlamaTestServer.isInstalled else {
            #expect(!LlamaTestServer.isRequired, "the test LLM is required but not installed")
            return try await runFlows(browser: browser, python: path, llm: nil)
        }
        try await LlamaTestServer.withServer(toolForcing: true) { llm in try await runFlows(browser: browser, python: path, llm: llm) }
    }

    static func runFlows(browser: String, python path: String, llm: LlamaTestServer?) async throws {
        // The agent panel's flow points a provider at a closed port on loopback; the History
        // section's needs a store (its commits are the flow's own "Sync now").
        let testData = try #require(ProcessInfo.processInfo.environment["HEARTH_TEST_DATA"], "run through scripts/test.sh")
        let data = testData + "/browser-\(browser)-\(UUID().uuidString.prefix(8))"
        var logger = Logger(label: "hearth.test.browser")
        logger.logLevel = .warning
        let volumes = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:], logger: logger)
        let server = try await LiveServer.start(dataDirectory: data, configure: {
            $0.agents.providerHostsAllowed = ["127.0.0.0/8"]
            $0.workspaceVolumes = volumes
            $0.commitInterval = nil
            // One forced tool step, then a last step offered no tools, which the model answers in
            // text (its forced opening makes that text JSON-like, but it streams as an answer).
            $0.agents.loopDefaults.toolChoice = .required
            $0.agents.loopDefaults.finalStepWithoutTools = true
            $0.agents.loopDefaults.maxTokens = 60
            $0.agents.loopDefaults.temperature = 0
            $0.agents.loopDefaults.maxStepsPerTurn = 1
        })
        let screenshots = root + "/.build/test-artifacts/browser/" + browser
        try? FileManager.default.removeItem(atPath: screenshots)
        let python = Process()
        python.executableURL = URL(fileURLWithPath: path)
        python.arguments = [root + "/Tests/browser/ide_flows.py", "--url", server.url, "--browser", browser,
                            "--password-file", server.dataDirectory + "/admin.password",
                            "--token-file", server.dataDirectory + "/admin.token", "--screenshots", screenshots]
            + (llm.map { ["--llm-base-url", $0.openAIBaseURL, "--llm-key", $0.apiKey, "--llm-model", LlamaTestServer.model] } ?? [])
        let output = Pipe()
        python.standardOutput = output
        python.standardError = output
        try python.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        print(text)
        #expect(python.terminationStatus == 0, "\(browser) flows failed:\n\(text)")
        #expect(text.contains("browser: \(browser)"))
        #expect(text.contains("all browser flows passed"))
        let shots = (try? FileManager.default.contentsOfDirectory(atPath: screenshots)) ?? []
        #expect(shots.filter { $0.hasSuffix(".png") }.count >= 8)
        for w in try await server.client.list() { try await server.client.delete(w.id) }
    }
}
