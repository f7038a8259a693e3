import Foundation
import HearthScrub

// hearth-scrub-tool: the scrubber's offline companion.
//   features FILE.jsonl   one line per stage-2 candidate: {"x": [features], "y": 0|1} (for train.py)
//   eval FILE.jsonl       precision and recall of the whole scrubber on labelled samples
//   bench [MiB]           single-core throughput on mixed text (release build)

func samples(_ path: String) throws -> [ScrubSample] {
    let data = try String(contentsOfFile: path, encoding: .utf8)
    return try data.split(separator: "\n").map { try JSONDecoder().decode(ScrubSample.self, from: Data($0.utf8)) }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { print("usage: hearth-scrub-tool features|eval FILE | bench [MiB]"); exit(2) }
switch arguments[1] {
case "features":
    // Threshold 0: every assignment candidate is reported, so each one gets a label.
    let everything = try Scrubber(classifier: SecretClassifier(weights: .init(repeating: 0, count: SecretClassifier.featureCount), bias: 0, threshold: 0))
    for sample in try samples(arguments[2]) {
        var text = sample.text
        text.withUTF8 { bytes in
            for finding in everything.findings(in: bytes) where finding.rule == .genericSecret {
                let span = UnsafeBufferPointer(rebasing: bytes[finding.start..<finding.end])
                let value = String(decoding: span, as: UTF8.self)
                let label = sample.secrets.contains { $0.contains(value) || value.contains($0) } ? 1 : 0
                let x = SecretClassifier.features(span).map { String(format: "%.6f", $0) }.joined(separator: ",")
                print("{\"x\": [\(x)], \"y\": \(label)}")
            }
        }
    }
case "eval":
    let evaluation = ScrubEvaluation(scrubber: .standard, samples: try samples(arguments[2]))
    print(evaluation)
    for text in evaluation.missed.prefix(15) { print("MISSED:", text.debugDescription) }
    for text in evaluation.wronglyFlagged.prefix(15) { print("FLAGGED:", text.debugDescription) }
case "bench":
    let mib = arguments.count > 2 ? Int(arguments[2]) ?? 64 : 64
    print(ScrubBenchmark.run(mebibytes: mib))
default:
    print("unknown command")
    exit(2)
}
