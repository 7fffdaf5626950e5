#!/bin/bash
# Build a small Linux 6.1 kernel, an initramfs and a disk image for rrvm
# (and QEMU virt). See README.md beside this script.
#
#   guests/linux/build.sh          # build (or do nothing if up to date)
#   guests/linux/build.sh --force  # rebuild even if the stamp matches
#   guests/linux/build.sh --smp    # the SMP kernel (smp.config merged too)
#
# Outputs, outside the repository, in ${RRVM_CACHE:-$HOME/.cache/rrvm}/linux/
# (linux-smp/ with --smp):
#   Image  vmlinux  initramfs.cpio.gz  init.elf  disk.img  config  stamp
#   vmlinux-gdb.py  scripts/gdb/linux/*.py   (the kernel's gdb helpers)
# Work trees (kernel source, object tree) go to .../linux/work/.
# JOBS (default: number of cores) sets make -j.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
JOBS=${JOBS:-$(nproc)}
FORCE=0
SMP=0
for arg in "$@"; do
	case "$arg" in
	--force) FORCE=1 ;;
	--smp) SMP=1 ;;
	*) printf 'build.sh: unknown option %s (use --force, --smp)\n' "$arg" >&2; exit 2 ;;
	esac
done
FRAGMENTS=("$HERE/rrvm.config")
OUT=${RRVM_CACHE:-$HOME/.cache/rrvm}/linux
if [ $SMP -eq 1 ]; then
	FRAGMENTS+=("$HERE/smp.config")
	OUT=$OUT-smp
fi
WORK=$OUT/work

KMAKE=(make ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu-)
# Reproducible: the same inputs give the same Image (its sha256 names it in traces).
export KBUILD_BUILD_TIMESTAMP="2024-01-01 00:00:00 UTC" KBUILD_BUILD_USER=rrvm \
	KBUILD_BUILD_HOST=rrvm KBUILD_BUILD_VERSION=1
PACKAGES=(linux-source-6.1 gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
          make gcc libc6-dev bc flex bison libssl-dev libelf-dev cpio xz-utils
          gzip python3 dwarves)

log() { printf 'build.sh: %s\n' "$*" >&2; }

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	log "installing ${missing[*]}"
	local sudo=()
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	"${sudo[@]}" apt-get update -q
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}"
}

# The stamp: hash of our inputs plus the kernel source package version.
stamp_text() {
	local ver
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || echo none)
	{
		echo "linux-source-6.1 $ver"
		sha256sum "${FRAGMENTS[@]}" "$HERE/init.c" "$HERE/build.sh" |
			awk '{print $1}'
	} | sha256sum | awk '{print $1}'
}

up_to_date() {
	local f
	[ -f "$OUT/stamp" ] || return 1
	for f in Image vmlinux initramfs.cpio.gz init.elf disk.img vmlinux-gdb.py \
		scripts/gdb/linux/constants.py; do
		[ -f "$OUT/$f" ] || return 1
	done
	[ "$(cat "$OUT/stamp")" = "$(stamp_text)" ]
}

if [ $FORCE -eq 0 ] && command -v dpkg-query >/dev/null && up_to_date; then
	log "up to date: $OUT"
	exit 0
fi

install_packages
mkdir -p "$OUT" "$WORK"
start=$(date +%s)

# 1. Kernel source, from Debian's linux-source-6.1 tarball.
SRC=$WORK/linux-source-6.1
TARBALL=$(ls /usr/src/linux-source-6.1.tar.* | head -n 1)
if [ ! -f "$SRC/.rrvm-extracted" ] || [ "$TARBALL" -nt "$SRC/.rrvm-extracted" ]; then
	log "extracting $TARBALL"
	rm -rf "$SRC"
	tar -C "$WORK" -xf "$TARBALL"
	touch "$SRC/.rrvm-extracted"
fi

# 2. Config: tinyconfig + our fragments (a later one overrides an earlier
# one's lines for the same symbol), then check nothing asked for was lost.
OBJ=$WORK/obj
mkdir -p "$OBJ"
FRAGMENT=$WORK/fragment.config
cp "${FRAGMENTS[0]}" "$FRAGMENT"
for extra in "${FRAGMENTS[@]:1}"; do
	for sym in $(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p' "$extra"); do
		grep -v -e "^$sym=" -e "^# $sym is not set" "$FRAGMENT" >"$FRAGMENT.new" || true
		mv "$FRAGMENT.new" "$FRAGMENT"
	done
	cat "$extra" >>"$FRAGMENT"
done
log "configuring (tinyconfig + ${FRAGMENTS[*]##*/})"
"${KMAKE[@]}" -C "$SRC" O="$OBJ" tinyconfig >"$WORK/config.log" 2>&1
(cd "$SRC" && ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- \
	scripts/kconfig/merge_config.sh -m -O "$OBJ" "$OBJ/.config" "$FRAGMENT") \
	>>"$WORK/config.log" 2>&1
"${KMAKE[@]}" -C "$SRC" O="$OBJ" olddefconfig >>"$WORK/config.log" 2>&1
lost=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$OBJ/.config" || { log "config: $line did not stick"; lost=1; } ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		! grep -q "^$sym=" "$OBJ/.config" || { log "config: $sym should be off"; lost=1; } ;;
	esac
done <"$FRAGMENT"
[ $lost -eq 0 ] || { log "the fragment did not apply; see $WORK/config.log"; exit 1; }

# 3. Kernel.
# scripts_gdb: vmlinux-gdb.py and scripts/gdb/linux/ (symlinks into the
# source tree plus the generated constants.py) for CONFIG_GDB_SCRIPTS.
log "building Image, vmlinux and the gdb scripts with -j$JOBS (log: $WORK/kernel.log)"
kstart=$(date +%s)
"${KMAKE[@]}" -C "$SRC" O="$OBJ" -j"$JOBS" Image vmlinux scripts_gdb >"$WORK/kernel.log" 2>&1 ||
	{ tail -n 30 "$WORK/kernel.log" >&2; exit 1; }
log "kernel built in $(( $(date +%s) - kstart )) s"

# 4. Initramfs: our static /init plus /dev/console, packed by the kernel's
# gen_init_cpio (no root needed for the device node, reproducible).
log "building init and initramfs"
INIT_CC=(riscv64-linux-gnu-gcc -static -Os -Wall -Wextra)
"${INIT_CC[@]}" -s -o "$WORK/init" "$HERE/init.c"
# The same program with its symbols, for debuggers (`--symbols init.elf`): the
# code and data are the initramfs's, only the build-id note differs.
"${INIT_CC[@]}" -o "$WORK/init.elf" "$HERE/init.c"
touch -d @0 "$WORK/init"          # gen_init_cpio records a file's own mtime
gcc -O2 -o "$WORK/gen_init_cpio" "$SRC/usr/gen_init_cpio.c"
cat >"$WORK/initramfs.list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
file /init $WORK/init 0755 0 0
EOF
"$WORK/gen_init_cpio" -t 0 "$WORK/initramfs.list" | gzip -9 -n >"$WORK/initramfs.cpio.gz"

# 5. Disk: 1 MiB raw image whose first sector holds a line of text.
printf 'rrvm disk: hello from the virtio disk\n' >"$WORK/disk.img"
truncate -s 1M "$WORK/disk.img"

# 6. Publish.
cp "$OBJ/arch/riscv/boot/Image" "$OBJ/vmlinux" "$WORK/initramfs.cpio.gz" \
	"$WORK/init.elf" "$WORK/disk.img" "$OUT/"
cp "$OBJ/.config" "$OUT/config"
# The gdb helpers as plain files (the object tree holds symlinks into the
# source tree): gdb loads vmlinux-gdb.py beside vmlinux, which imports
# scripts/gdb/linux/ relative to itself.
rm -rf "$OUT/scripts"
mkdir -p "$OUT/scripts/gdb/linux"
cp -L "$OBJ/scripts/gdb/linux/"*.py "$OUT/scripts/gdb/linux/"
cp -L "$OBJ/vmlinux-gdb.py" "$OUT/"
stamp_text >"$OUT/stamp"
log "done in $(( $(date +%s) - start )) s: $OUT/{Image,vmlinux,initramfs.cpio.gz,init.elf,disk.img}"
