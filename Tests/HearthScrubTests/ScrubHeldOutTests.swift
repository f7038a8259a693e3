import Foundation
import Testing
import HearthScrub

/// The whole scrubber (rules and classifier) on the held-out set `scripts/scrub/generate.py --seed 2`
/// made (the classifier was trained on `--seed 1`): positives of every rule kind and hard negatives.
@Suite struct ScrubHeldOutTests {
    static func heldOut() throws -> [ScrubSample] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/heldout.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(ScrubSample.self, from: Data($0.utf8)) }
    }

    @Test func precisionAndRecallAreAtLeast95Percent() throws {
        let samples = try Self.heldOut()
        #expect(samples.count >= 2_000)
        let evaluation = ScrubEvaluation(scrubber: .standard, samples: samples)
        print("held-out: \(evaluation)")
        #expect(evaluation.precision >= 0.95, "\(evaluation) flagged: \(evaluation.wronglyFlagged.prefix(5))")
        #expect(evaluation.recall >= 0.95, "\(evaluation) missed: \(evaluation.missed.prefix(5))")
    }

    @Test func everyRuleKindIsInTheHeldOutSetAndFoundThere() throws {
        let samples = try Self.heldOut()
        for kind in Set(samples.map(\.kind)) where kind != "negative" {
            let ofKind = samples.filter { $0.kind == kind }
            let evaluation = ScrubEvaluation(scrubber: .standard, samples: ofKind)
            #expect(ofKind.count >= 50, "\(kind)")
            #expect(evaluation.recall >= 0.95, "\(kind): \(evaluation)")
        }
    }

    @Test func anUntrainedClassifierFailsTheBar() throws {
        // The bar can fail: with zero weights (probability 0.5, threshold 0.5) every candidate is a secret.
        let untrained = try Scrubber(classifier: SecretClassifier(weights: .init(repeating: 0, count: SecretClassifier.featureCount), bias: -1))
        let evaluation = ScrubEvaluation(scrubber: untrained, samples: try Self.heldOut())
        #expect(evaluation.recall < 0.95)
    }
}
