#!/usr/bin/env bash
# Set-up command 2: install, build, and run the whole test suite against real sandboxes.
set -euo pipefail
cd "$(dirname "$0")/.."
HEARTH_BUILD_CONFIG=debug HEARTH_SETUP_BROWSER=1 scripts/setup.sh
export HEARTH_AGENT_DIR="$PWD/.build/hearth-agent"
# Real-sandbox tests share one base image per checkout; it is built on first use (about 20 s).
export HEARTH_TEST_DATA="${HEARTH_TEST_DATA:-$PWD/.build/test-data}"
export HEARTH_REQUIRE_SANDBOX=1
mkdir -p "$HEARTH_TEST_DATA"
# The agent tests talk to the real offline LLM that setup.sh built: a missing server fails them
# rather than skipping them, unless the LLM was deliberately left out (HEARTH_SETUP_LLAMA=0).
if [ "${HEARTH_SETUP_LLAMA:-1}" = 1 ]; then export HEARTH_REQUIRE_LLM=1; fi
# A hang must fail the run, not eat the CI budget.
timeout --kill-after=30 2400 swift test --no-parallel "$@"
