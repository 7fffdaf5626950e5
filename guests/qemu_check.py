#!/usr/bin/env python3
"""Run the guests on qemu-system-riscv64 (-M virt, OpenSBI) and compare their
console output with expected/<name>.out.

The output is compared from the "<name>: start" line on (this cuts OpenSBI's
banner), with '\\r' removed. echo gets its input (expected/echo.in) on stdin
after its prompt. virtio runs with a virtio-blk device on a copy of
bin/virtio-disk.img and a virtio-rng device (VIRTIO_OPTIONS: the modern
transport, the first device in the highest slot as on rrvm). demo is
nondeterministic by design: each run must end either cleanly (exit 0) or with
a PANIC (exit 1); the counts are reported.

usage: python3 qemu_check.py [--qemu PATH] [--demo-runs N] [guest ...]
"""
import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DETERMINISTIC = ["hello", "timer", "echo", "paging", "compute", "virtio", "remap", "stale", "flow", "long",
                 "fpflags"]
# Guests that read the console: what they print before reading, and their input in expected/.
PROMPTS = {"echo": "'quit' powers off\n", "flow": "flow: type a character\n"}
DISK = os.path.join(HERE, "bin", "virtio-disk.img")


def virtio_options(disk):
    """QEMU's equivalent of rrvm's --disk DISK --rng."""
    return ["-global", "virtio-mmio.force-legacy=false",
            "-drive", "file=%s,if=none,format=raw,id=d0" % disk,
            "-device", "virtio-blk-device,drive=d0", "-device", "virtio-rng-device"]


def qemu_cmd(qemu, name, extra=()):
    return [qemu, "-M", "virt", "-bios", "default", "-nographic", "-no-reboot",
            "-kernel", os.path.join(HERE, "bin", name + ".elf"), *extra]


def run(qemu, name, feed=None, prompt=None, timeout=60, extra=()):
    """Run one guest; returns (exit status, output text without '\\r')."""
    p = subprocess.Popen(qemu_cmd(qemu, name, extra), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    fed = feed is None
    deadline = time.monotonic() + timeout
    fd = p.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            p.kill()
            p.wait()
            return None, out.decode("latin-1").replace("\r", "")
        r, _, _ = select.select([fd], [], [], min(left, 0.5))
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
        if not fed and prompt.encode() in out.replace(b"\r", b""):
            p.stdin.write(feed.encode())
            p.stdin.flush()
            fed = True
    return p.wait(), out.decode("latin-1").replace("\r", "")


def guest_part(name, text):
    i = text.find(name + ": start\n")
    return text[i:] if i >= 0 else None


def check_deterministic(qemu, name):
    expected = open(os.path.join(HERE, "expected", name + ".out")).read()
    feed = prompt = None
    if name in PROMPTS:
        feed = open(os.path.join(HERE, "expected", name + ".in")).read()
        prompt = PROMPTS[name]
    with tempfile.TemporaryDirectory() as tmp:
        extra = ()
        if name == "virtio":       # the guest writes the disk: give it a fresh copy
            disk = shutil.copy(DISK, os.path.join(tmp, "disk.img"))
            extra = virtio_options(disk)
        rc, text = run(qemu, name, feed, prompt, extra=extra)
    got = guest_part(name, text)
    ok = rc == 0 and got == expected
    print("%-8s %s (exit %s)" % (name, "ok" if ok else "FAILED", rc))
    if not ok:
        print("---- expected\n%s---- got\n%s----" % (expected, got if got is not None else text))
    return ok


def check_demo(qemu, runs):
    crashed = clean = bad = 0
    for _ in range(runs):
        rc, text = run(qemu, "demo")
        got = guest_part("demo", text) or ""
        if rc == 0 and got.endswith("demo: no corruption this run, powering off\n"):
            clean += 1
        elif rc == 1 and "PANIC: " in got:
            crashed += 1
        else:
            bad += 1
            print("demo: unexpected end (exit %s):\n%s" % (rc, got or text))
    print("%-8s %s: %d runs, %d PANIC (exit 1), %d clean (exit 0)"
          % ("demo", "ok" if not bad else "FAILED", runs, crashed, clean))
    return bad == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", default="qemu-system-riscv64")
    ap.add_argument("--demo-runs", type=int, default=6)
    ap.add_argument("guests", nargs="*", default=DETERMINISTIC + ["demo"])
    a = ap.parse_args()
    ok = True
    for g in a.guests:
        ok &= check_demo(a.qemu, a.demo_runs) if g == "demo" else check_deterministic(a.qemu, g)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
