#!/usr/bin/env python3
"""Throughput benchmark: braid against wireguard-go and boringtun, in one interleaved run.

Run as root from anywhere:  python3 bench/run.py [--quick] [--reps N]

For each repetition it measures braid, then wireguard-go, then boringtun, each in fresh
network namespaces (see suite.py for the topology and the tests), prints a table of
medians with the braid/anchor ratios, and writes the raw results to
bench/results/<date>.json. Everything it creates is removed on every exit path.
"""

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import impls as impls_mod  # noqa: E402
import report  # noqa: E402
from lab import LabError  # noqa: E402
from suite import run_suite  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 s per iperf3 test instead of 10 s")
    p.add_argument("--seconds", type=int, help="seconds per iperf3 test (overrides --quick)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per implementation (default 3)")
    p.add_argument(
        "--impls",
        default="braid,wireguard-go,boringtun,gotatun",
        help="comma-separated subset including braid, in interleaving order (default: all four)",
    )
    p.add_argument(
        "--baseline",
        metavar="BINARY",
        help="also measure this braid binary (an earlier build) as 'braid-base', after braid",
    )
    p.add_argument("--ping-count", type=int, default=50, help="pings per latency test (default 50)")
    p.add_argument("--ping-interval", type=float, default=0.01, help="seconds between pings (default 0.01)")
    p.add_argument("--no-build", action="store_true", help="use target/release/braid as it is")
    p.add_argument("--no-install", action="store_true", help="fail instead of installing missing tools")
    p.add_argument("--out", help="where to write the JSON (default bench/results/<date>.json)")
    p.add_argument("--keep-logs", action="store_true", help="keep the daemons' logs (printed path)")
    args = p.parse_args(argv)
    if args.reps < 1 or args.ping_count < 1:
        p.error("--reps and --ping-count must be at least 1")
    return args


def say(text):
    print(text, flush=True)


def loadavg():
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def install_missing(selected, allowed):
    """apt-get / cargo install what is missing (only when allowed); returns what is still missing."""
    missing = impls_mod.missing_tools(selected)
    if not missing or not allowed:
        return missing
    apt = {"ip": "iproute2", "wg": "wireguard-tools", "iperf3": "iperf3", "ping": "iputils-ping",
           "wireguard-go": "wireguard-go"}  # fmt: skip
    packages = sorted({apt[m] for m in missing if m in apt})
    if packages:
        say(f"installing {' '.join(packages)} (apt-get)")
        subprocess.run(["apt-get", "update"], check=False, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *packages],
            check=False,
            timeout=1200,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    for tool, crate in (("boringtun-cli", "boringtun-cli"), ("gotatun", "gotatun-cli")):
        if tool in missing:
            say(f"installing {crate} (cargo install; several minutes)")
            subprocess.run(["cargo", "install", crate], check=False, timeout=3600)
    cargo_bin = os.path.expanduser("~/.cargo/bin")
    if cargo_bin not in os.environ.get("PATH", "").split(":"):
        os.environ["PATH"] += ":" + cargo_bin
    return impls_mod.missing_tools(selected)


def build_braid():
    say("building braid (cargo build --release -p braid)")
    subprocess.run(["cargo", "build", "--release", "-p", "braid"], cwd=REPO, check=True, timeout=3600)


def _terminate(signum, _frame):
    # Turn SIGTERM/SIGHUP into an exception so every `with Lab` and `finally` cleans up.
    raise SystemExit(128 + signum)


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        say("bench/run.py needs root (network namespaces, TUN devices)")
        return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    known = {i.name: i for i in impls_mod.all_impls(REPO)}
    wanted = [n.strip() for n in args.impls.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted or "braid" not in wanted:
        say(f"--impls must include braid and name only {', '.join(known)}")
        return 2
    selected = [known[n] for n in wanted]
    if args.baseline:
        if not os.access(args.baseline, os.X_OK):
            say(f"--baseline {args.baseline}: not an executable")
            return 2
        selected.insert(1, impls_mod.baseline_impl(os.path.abspath(args.baseline)))
    missing = install_missing(selected, not args.no_install)
    if missing:
        say(f"missing tools: {', '.join(missing)} (see bench/README.md)")
        return 2
    if not args.no_build:
        build_braid()
    if not os.access(known["braid"].program, os.X_OK):
        say(f"{known['braid'].program} does not exist: build it or drop --no-build")
        return 2

    log_dir = tempfile.mkdtemp(prefix="braid-bench-")
    try:
        return measure_all(args, selected, log_dir)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def snapshot_braid(selected, log_dir):
    """Runs a private copy of the braid binary, so a rebuild by someone else mid-run
    (the target directory may be shared) cannot mix two builds into one table."""
    copy = os.path.join(log_dir, "braid")
    out = []
    for impl in selected:
        if impl.name == "braid":
            shutil.copy2(impl.program, copy)
            os.chmod(copy, 0o755)
            impl = dataclasses.replace(impl, program=copy)
        out.append(impl)
    return out


def measure_all(args, selected, log_dir):
    """The interleaved loop, the tables and the JSON; returns the exit status."""
    selected = snapshot_braid(selected, log_dir)
    seconds = args.seconds or (3 if args.quick else 10)
    started = datetime.datetime.now().astimezone()
    info = {
        "date": started.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "seconds_per_test": seconds,
        "reps": args.reps,
        "ping": {"count": args.ping_count, "interval_s": args.ping_interval},
        "versions": impls_mod.versions(REPO, selected),
        "loadavg_start": loadavg(),
    }
    say(f"braid data-path benchmark, {info['date']}, {args.reps} × {len(selected)} runs, {seconds} s per test")
    for name, version in info["versions"].items():
        say(f"  {name}: {version}")
    say(f"  load average at start: {info['loadavg_start']}")

    tag = f"{os.getpid() % 100000:05d}"
    results = []
    failed = False
    logs = os.path.join(log_dir, "logs")
    os.makedirs(logs)
    try:
        for rep in range(1, args.reps + 1):
            for impl in selected:
                say(f"rep {rep}/{args.reps}: {impl.name}")
                t0 = time.monotonic()
                try:
                    result = run_suite(impl, rep, tag, logs, seconds, args.ping_count, args.ping_interval, say)
                except LabError as exc:
                    result = {"impl": impl.name, "rep": rep, "errors": {"setup": str(exc)}}
                    say(f"  FAILED: {exc}")
                result["wall_s"] = round(time.monotonic() - t0, 1)
                failed = failed or bool(result["errors"])
                results.append(result)
    finally:
        if failed or args.keep_logs:
            kept = tempfile.mkdtemp(prefix="braid-bench-logs-")
            shutil.copytree(logs, kept, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.key"))
            say(f"daemon logs kept in {kept}")

    info["loadavg_end"] = loadavg()
    names = [i.name for i in selected]
    anchors = [n for n in names if n != "braid"]
    meds = report.medians(results, names)
    rats = report.ratios(meds, "braid", anchors)
    info.update(results=results, medians=meds, ratios=rats)

    out = args.out or os.path.join(BENCH_DIR, "results", started.strftime("%Y-%m-%dT%H%M%S") + ".json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
        f.write("\n")

    say(f"\nload average: {info['loadavg_start']} at start, {info['loadavg_end']} at end")
    say(f"\nMedians of {args.reps} repetition(s), {seconds} s per iperf3 test:\n")
    say(report.median_table(meds, rats, "braid", anchors))
    say("\nEvery repetition (rep 1 / rep 2 / …):\n")
    say(report.spread_table(results, names))
    for r in results:
        for label, error in r["errors"].items():
            say(f"error: {r['impl']} rep {r['rep']}, {label}: {error.splitlines()[0] if error else ''}")
    shown = os.path.relpath(out, REPO) if os.path.abspath(out).startswith(REPO + os.sep) else out
    say(f"\nraw results: {shown}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        say("interrupted; everything created was removed")
        sys.exit(130)
    except SystemExit as exc:
        if exc.code not in (0, 1, 2, None):
            say(f"stopped by a signal; everything created was removed (exit {exc.code})")
        raise
