#!/usr/bin/env bash
# Builds the microVM boot assets into AGENT_DIR/microvm/sha256-<digest>/ and points
# AGENT_DIR/microvm/current at it:
#   vmlinuz        the kernel of Debian's linux-image-amd64, extracted, never installed on the host
#   initramfs.img  a gzipped newc cpio: hearth-guest as /init and the virtio, ext4 and vsock
#                  (virtio-net too) modules in dependency order (/lib/hearth-modules/order)
# The digest covers the kernel package and the agent binary, so a rebuild happens only when either
# changes. Usage: scripts/build-microvm.sh AGENT_DIR
set -euo pipefail
agent_dir="$1"
guest="$agent_dir/hearth-guest"
[ -x "$guest" ] || { echo "build-microvm: $guest is missing" >&2; exit 1; }
cache="$agent_dir/microvm"
downloads="$cache/downloads"
mkdir -p "$downloads"

# The kernel package the metapackage points at today.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$pkg" ] || { echo "build-microvm: apt knows no linux-image-amd64; run apt-get update" >&2; exit 1; }
deb=$(ls "$downloads"/"${pkg}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  echo "build-microvm: downloading $pkg" >&2
  (cd "$downloads" && apt-get download "$pkg" 2> >(grep -v "couldn't be accessed by user '_apt'" >&2))
  deb=$(ls "$downloads"/"${pkg}"_*.deb | head -1)
fi

modules=(virtio_mmio virtio_blk virtio_console virtio_net ext4 crc32c_generic vmw_vsock_virtio_transport)
digest=$( (sha256sum "$deb" "$guest" | cut -d' ' -f1; echo "${modules[*]}"; sha256sum "$0" | cut -d' ' -f1) | sha256sum | cut -c1-32)
out="$cache/sha256-$digest"
if [ -f "$out/initramfs.img" ] && [ -f "$out/vmlinuz" ]; then
  ln -sfn "sha256-$digest" "$cache/current"
  echo "build-microvm: cached $out" >&2
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/pkg"
kver=$(ls "$work/pkg/lib/modules")
moddir="$work/pkg/lib/modules/$kver"

# Resolve dependencies depth-first, so each module follows everything it needs.
declare -A seen=()
order=()
resolve() {
  local name="$1" file deps dep
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  file=$(find "$moddir" -name "$name.ko" -print -quit)
  [ -n "$file" ] || { echo "build-microvm: module $name not in $pkg" >&2; exit 1; }
  deps=$(modinfo -F depends "$file")
  for dep in ${deps//,/ }; do resolve "$dep"; done
  order+=("$name")
}
for m in "${modules[@]}"; do resolve "$m"; done

root="$work/root"
mkdir -p "$root/lib/hearth-modules" "$root/dev" "$root/proc" "$root/sys" "$root/newroot"
for m in "${order[@]}"; do cp "$(find "$moddir" -name "$m.ko" -print -quit)" "$root/lib/hearth-modules/"; done
printf '%s\n' "${order[@]}" > "$root/lib/hearth-modules/order"
install -m 0755 "$guest" "$root/init"
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

mkdir -p "$out.tmp"
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -1 > "$out.tmp/initramfs.img"
cp "$work/pkg/boot/vmlinuz-$kver" "$out.tmp/vmlinuz"
echo "$kver" > "$out.tmp/kernel-release"
rm -rf "$out"
mv "$out.tmp" "$out"
ln -sfn "sha256-$digest" "$cache/current"
# Older builds are unreachable now.
find "$cache" -maxdepth 1 -name 'sha256-*' ! -name "sha256-$digest" -exec rm -rf {} +
echo "build-microvm: built $out (kernel $kver, modules: ${order[*]})" >&2
