#!/usr/bin/env bash
# Install what the test suite needs (Debian packages when missing, the Python
# package with its test extras, the Linux guest build) and run the whole suite.
# CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v gdb-multiarch >/dev/null || missing+=(gdb-multiarch)
command -v lldb >/dev/null || missing+=(lldb)
command -v qemu-system-riscv64 >/dev/null || missing+=(qemu-system-misc)
[ -f /usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin ] || missing+=(u-boot-qemu)
command -v riscv64-unknown-elf-gcc >/dev/null || missing+=(gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf)
command -v dtc >/dev/null || missing+=(device-tree-compiler)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m pip install -q -e ".[test]"
# The reference Debug Adapter Protocol client library, for tests/dap (pinned by its lock file).
(cd tests/dap && npm ci --no-audit --no-fund --silent)
# The Linux guest (kernel, initramfs, disk), cached outside the repository:
# a few minutes the first time on a new machine, nothing afterwards; the SMP
# kernel (CONFIG_SMP, for tests/test_linux_smp.py) likewise.
guests/linux/build.sh
guests/linux/build.sh --smp
python3 -m pytest -q "$@"
# Again on the count-hook engine (what runs when the native one cannot attach):
# the board and replay tests, less the long seek test and the engine
# comparison (which runs both engines already).
RRVM_ENGINE=hook exec python3 -m pytest -q tests/monitor tests/replay \
  --ignore=tests/replay/test_seek_random.py --ignore=tests/replay/test_engines.py
