import ArgumentParser
import Foundation
import HearthStore

struct VolumeBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark",
        abstract: "Measure what one core of this machine does per second: chunking, hashing, compression and sealing.",
        discussion: "Runs in memory on one thread; needs no store or KEK. A commit runs this pipeline on every core.")
    @Option(help: "MiB of data per content kind") var mib = 256
    @Flag(help: "Print the result as JSON") var json = false

    func run() async throws {
        try await withStoreErrors {
            guard (1...8192).contains(mib) else { throw StoreError(.invalidArgument, "--mib must be between 1 and 8192") }
            var results: [PipelineThroughput] = []
            for content in PipelineBenchmark.Content.allCases {
                results.append(try PipelineBenchmark.run(megabytes: mib, content: content))
            }
            if json { try printJSON(results); return }
            print("content  chunking  sha256  compress  seal  pipeline  (MiB/s, one core; \(mib) MiB each)")
            for r in results {
                let figures = [r.chunking, r.sha256, r.encode, r.seal, r.pipeline].map { String(format: "%8.0f", $0) }
                print(r.content.padding(toLength: 8, withPad: " ", startingAt: 0) + figures.joined(separator: " "))
            }
        }
    }
}
