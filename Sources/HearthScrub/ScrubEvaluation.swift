/// Precision and recall of the whole scrubber on labelled samples (the generator's format): a
/// positive counts as found when none of its secrets survives and something fired; a negative is a
/// false positive when anything fired.
public struct ScrubSample: Sendable, Decodable {
    public var text: String
    public var kind: String
    public var secrets: [String]
}

public struct ScrubEvaluation: Sendable, CustomStringConvertible {
    public var truePositives = 0, falseNegatives = 0, falsePositives = 0, trueNegatives = 0
    public var missed: [String] = []
    public var wronglyFlagged: [String] = []

    public var precision: Double { Double(truePositives) / Double(max(truePositives + falsePositives, 1)) }
    public var recall: Double { Double(truePositives) / Double(max(truePositives + falseNegatives, 1)) }
    public var description: String {
        "precision \(precision) recall \(recall) (tp \(truePositives) fn \(falseNegatives) fp \(falsePositives) tn \(trueNegatives))"
    }

    public init(scrubber: Scrubber, samples: [ScrubSample]) {
        for sample in samples {
            var session = ScrubSession(scrubber: scrubber)
            let outcome = session.scrub(sample.text)
            if sample.secrets.isEmpty {
                if outcome.isClean { trueNegatives += 1 } else { falsePositives += 1; wronglyFlagged.append(sample.text) }
            } else if !outcome.isClean, !sample.secrets.contains(where: { outcome.text.contains($0) }) {
                truePositives += 1
            } else {
                falseNegatives += 1
                missed.append(sample.text)
            }
        }
    }
}
