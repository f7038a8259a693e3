#!/usr/bin/env bash
# Set-up command 1: install, build, and run `hearth serve` on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .build/release/hearth serve "$@"
