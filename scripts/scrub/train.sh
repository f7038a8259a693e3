#!/usr/bin/env bash
# Regenerates the scrubber's training data and held-out set, extracts stage-2 features with the Swift
# code itself (one definition of the features), trains, and writes the weights into the source tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
python3 scripts/scrub/generate.py --seed 1 --count 6000 > "$work/train.jsonl"
python3 scripts/scrub/generate.py --seed 2 --count 3000 > Tests/HearthScrubTests/Fixtures/heldout.jsonl
swift build --product hearth-scrub-tool
tool=$(swift build --product hearth-scrub-tool --show-bin-path)/hearth-scrub-tool
"$tool" features "$work/train.jsonl" > "$work/features.jsonl"
python3 scripts/scrub/train.py "$work/features.jsonl" Sources/HearthScrub/SecretClassifier+Weights.swift
swift build --product hearth-scrub-tool
"$tool" eval Tests/HearthScrubTests/Fixtures/heldout.jsonl
rm -rf "$work"
