import Foundation
import HearthClient
import Testing

/// A `hearth serve` process on port 0; its log goes to a file, where the bound URL is read.
struct ServeProcess {
    let process: Process
    let url: String
    let token: String

    static func start(data: String, log: String, arguments: [String] = []) async throws -> ServeProcess {
        let bundle = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let binary = URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("hearth").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the hearth product first")
        FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--data", data, "--listen", "127.0.0.1:0", "--log-level", "notice"] + arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let url = Self.listeningURL(text) {
                let token = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                return ServeProcess(process: process, url: url, token: token)
            }
            guard Self.isAlive(process.processIdentifier) else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(process.processIdentifier, SIGKILL)
        throw ServeFailure(what: "hearth serve did not listen", log: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// `http.url=http://127.0.0.1:PORT` from the `listening` line.
    static func listeningURL(_ log: String) -> String? {
        for line in log.split(separator: "\n") where line.contains("listening") {
            guard let start = line.range(of: "http.url=") else { continue }
            let url = line[start.upperBound...].prefix { !$0.isWhitespace }
            if url.hasPrefix("http://127.0.0.1:"), !url.hasSuffix(":0") { return String(url) }
        }
        return nil
    }

    /// Running, and not a zombie waiting to be collected.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    var client: HearthClient { HearthClient(baseURL: url, token: token) }

    func kill9() async throws {
        let pid = process.processIdentifier
        #expect(kill(pid, SIGKILL) == 0)
        let deadline = ContinuousClock.now + .seconds(10)
        while Self.isAlive(pid), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!Self.isAlive(pid), "hearth serve outlived SIGKILL")
    }

    func terminate() async {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(30)
        while Self.isAlive(process.processIdentifier), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if Self.isAlive(process.processIdentifier) { kill(process.processIdentifier, SIGKILL) }
    }
}

struct ServeFailure: Error, CustomStringConvertible {
    let what: String
    let log: String
    var description: String { what + "\n" + String(log.suffix(4000)) }
}
