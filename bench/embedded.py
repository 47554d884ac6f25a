#!/usr/bin/env python3
"""The embedded tunnel against the TUN path, in one interleaved run.

Run as root:  python3 bench/embedded.py [--reps 3] [--size 1G] [--seconds 10]

Each repetition measures, one after the other:
  * `braid demo --size SIZE` run as an unprivileged user (nobody): two braid tunnels in one
    process over loopback UDP, braid's userspace TCP/IP stack at both ends, one TCP stream;
    its reported throughput, and the process's CPU seconds per GB;
  * braid's TUN path: two braid daemons in network namespaces (the topology of suite.py) and
    one iperf3 TCP stream with the kernel's TCP at both ends (`TCP 1 stream + CPU`);
  * the same with Debian's wireguard-go, as the anchor.
It prints a median table; nothing is asserted.
"""

import argparse
import dataclasses
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import impls as impls_mod  # noqa: E402
from suite import run_suite  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demo(binary, size):
    """Runs the demo as nobody; returns (Gbit/s, CPU s/GB of the whole process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary, "demo", "--size", size],
        capture_output=True, text=True, timeout=600, check=True, cwd=os.path.dirname(binary),
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = re.search(r"^transfer\s+.* in ([\d.]+) s: ([\d.]+) Gbit/s", out.stdout, re.M)
    if not m or "verified by both ends" not in out.stdout:
        raise RuntimeError(f"unexpected demo output:\n{out.stdout}\n{out.stderr}")
    m_bytes = re.search(r"^TCP: ([\d.]+) (MiB|GiB)", out.stdout, re.M)
    nbytes = float(m_bytes.group(1)) * (1 << (20 if m_bytes.group(2) == "MiB" else 30))
    return float(m.group(2)), cpu / (nbytes / 1e9)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--size", default="1G")
    p.add_argument("--seconds", type=int, default=10)
    args = p.parse_args()
    if os.geteuid() != 0:
        print("bench/embedded.py needs root (namespaces for the TUN path; setpriv for the demo)")
        return 2
    work = tempfile.mkdtemp(prefix="braid-embedded-")
    os.chmod(work, 0o755)
    binary = os.path.join(work, "braid")
    shutil.copy2(os.path.join(REPO, "target", "release", "braid"), binary)
    os.chmod(binary, 0o755)
    known = {i.name: i for i in impls_mod.all_impls(REPO)}
    braid = dataclasses.replace(known["braid"], program=binary)
    anchors = [braid, known["wireguard-go"]]
    rows = {"embedded (demo)": [], "embedded CPU s/GB": []}
    for impl in anchors:
        rows[f"{impl.name} TUN + kernel TCP"] = []
        rows[f"{impl.name} TUN CPU s/GB"] = []
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    tag = f"{os.getpid() % 100000:05d}"
    try:
        for rep in range(1, args.reps + 1):
            print(f"rep {rep}/{args.reps}: embedded", flush=True)
            gbps, cpu = demo(binary, args.size)
            rows["embedded (demo)"].append(gbps)
            rows["embedded CPU s/GB"].append(cpu)
            for impl in anchors:
                print(f"rep {rep}/{args.reps}: {impl.name} TUN", flush=True)
                r = run_suite(impl, rep, tag, logs, args.seconds, 1, 0.01, print, only=["TCP 1 stream + CPU"])
                rows[f"{impl.name} TUN + kernel TCP"].append(r.get("tcp1_gbps"))
                rows[f"{impl.name} TUN CPU s/GB"].append(r.get("cpu_s_per_gb"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| what | median | every repetition |\n|---|---|---|")
    for label, values in rows.items():
        got = [v for v in values if v is not None]
        unit = "CPU s/GB" if "CPU" in label else "Gbit/s"
        med = f"{statistics.median(got):.2f} {unit}" if got else "—"
        print(f"| {label} | {med} | {' / '.join(f'{v:.2f}' for v in got)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
