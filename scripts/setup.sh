#!/usr/bin/env bash
# Installs what Hearth needs from Debian, builds the server and CLI, and builds the agent bundle
# (a static hearth-guest and the statx preload) into .build/hearth-agent. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(runsc mmdebstrap umoci sqlite3 gcc iproute2 ca-certificates)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

config="${HEARTH_BUILD_CONFIG:-release}"
echo "setup: building hearth ($config)" >&2
swift build -c "$config" --product hearth

echo "setup: building the static guest agent" >&2
swift build -c release --product hearth-guest --static-swift-stdlib -Xswiftc -static-executable --scratch-path .build-guest \
  2> >(grep -v "statically linked applications requires at runtime" >&2)
mkdir -p .build/hearth-agent
install -m 0755 .build-guest/release/hearth-guest .build/hearth-agent/hearth-guest
strip .build/hearth-agent/hearth-guest
gcc -O2 -shared -fPIC -o .build/hearth-agent/libhearth-statx.so images/preload/statx_fix.c
echo "setup: done; agent bundle in .build/hearth-agent" >&2
